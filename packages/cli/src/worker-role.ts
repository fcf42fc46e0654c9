import { randomBytes } from 'node:crypto';
import { ActorSystem, NatsTransport } from '@weir/actors';
import { JetStreamDataPlane, ObjectStoreArtifacts, RedisSnapshotStore, subjects, Worker } from '@weir/runtime';
import { JOB_CACHE_DIR } from './cache-dir.js';
import { connectNats, connectorConnections } from './nats.js';
import { connectRedis } from './redis.js';
import { fatalOnEscalate, type ClusterConfig, type Running } from './roles.js';

/** A worker process: registers with whichever coordinator serves this cluster id. */
export async function startWorker(c: ClusterConfig & { slots: number; workerId?: string }): Promise<Running> {
  const nc = await connectNats(c.natsUrl, 'weir-worker');
  const redis = await connectRedis(c.redisUrl, 'weir-worker');
  const workerId = c.workerId ?? randomBytes(4).toString('hex');
  const system = new ActorSystem({ name: `worker-${workerId}`, transport: new NatsTransport(nc, { prefix: subjects.actorPrefix(c.clusterId) }), logger: c.log, onEscalate: fatalOnEscalate('worker', c) });
  // Connectors get their own connection: a sink's burst of publishes must not queue ahead of the data channels.
  const conns = connectorConnections(c.natsUrl);
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
  await worker.start();
  return {
    async stop() {
      await worker.stop();
      await system.shutdown();
      await conns.close();
      await nc.drain();
      redis.disconnect();
    },
  };
}
