import { randomBytes } from 'node:crypto';
import { ActorSystem, NatsTransport } from '@weir/actors';
import { JetStreamDataPlane, ObjectStoreArtifacts, RedisSnapshotStore, subjects, Worker } from '@weir/runtime';
import { JOB_CACHE_DIR } from './cache-dir.js';
import { connectorConnections } from './nats.js';
import { connectRole, fatalOnEscalate, Resources, type ClusterConfig, type Running } from './roles.js';

/** A worker process: registers with whichever coordinator serves this cluster id. */
export async function startWorker(c: ClusterConfig & { slots: number; workerId?: string }): Promise<Running> {
  // Whatever opened before a failure is closed again, so a failed start exits instead of hanging on an open socket.
  const res = new Resources();
  try {
    const { nc, redis } = await connectRole(c, res, 'weir-worker');
    const workerId = c.workerId ?? randomBytes(4).toString('hex');
    // Connectors get their own connection: a sink's burst of publishes must not queue ahead of the data channels.
    const conns = connectorConnections(c.natsUrl);
    res.add(() => conns.close());
    const system = new ActorSystem({ name: `worker-${workerId}`, transport: new NatsTransport(nc, { prefix: subjects.actorPrefix(c.clusterId) }), logger: c.log, onEscalate: fatalOnEscalate('worker', c) });
    res.add(() => system.shutdown());
    const worker = new Worker({
      workerId,
      slots: c.slots,
      system,
      dataPlane: new JetStreamDataPlane(nc, c.clusterId, c.log),
      artifacts: new ObjectStoreArtifacts(nc, c.clusterId),
      snapshots: new RedisSnapshotStore(redis, { cluster: c.clusterId }),
      redisUrl: c.redisUrl,
      log: c.log,
      cacheDir: JOB_CACHE_DIR,
      nats: (o) => conns.get(o),
    });
    res.add(() => worker.stop());
    await worker.start();
    return { stop: () => res.closeAll() };
  } catch (e) {
    await res.closeAll();
    throw e;
  }
}
