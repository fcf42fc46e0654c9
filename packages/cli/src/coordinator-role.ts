import { ActorSystem, NatsTransport } from '@weir/actors';
import { Coordinator, createRestServer } from '@weir/coordinator';
import { JetStreamDataPlane, ObjectStoreArtifacts, RedisSavepointStore, RedisSnapshotStore, subjects } from '@weir/runtime';
import { connectNats } from './nats.js';
import { connectRedis } from './redis.js';
import { fatalOnEscalate, type ClusterConfig, type Running } from './roles.js';

/** A coordinator process: actors over NATS, JetStream channels, Object Store bundles, REST. */
export async function startCoordinator(c: ClusterConfig & { restHost: string; restPort: number; heartbeatTimeoutMs?: number; slotWaitTimeoutMs?: number; workerGoneGraceMs?: number }): Promise<Running & { url: string }> {
  const nc = await connectNats(c.natsUrl, 'weir-coordinator');
  const redis = await connectRedis(c.redisUrl, 'weir-coordinator');
  // Savepoints get their own connection: an export's or a restore's megabytes of MGET and COPY must
  // not queue ahead of the periodic checkpoints' commits (one connection answers in order).
  const savepointRedis = await connectRedis(c.redisUrl, 'weir-coordinator-savepoints').catch((e: unknown) => {
    redis.disconnect();
    throw e;
  });
  const system = new ActorSystem({ name: 'coordinator', transport: new NatsTransport(nc, { prefix: subjects.actorPrefix(c.clusterId) }), logger: c.log, onEscalate: fatalOnEscalate('coordinator', c) });
  const snapshots = new RedisSnapshotStore(redis, { cluster: c.clusterId });
  const coordinator = new Coordinator({
    system,
    dataPlane: new JetStreamDataPlane(nc, c.clusterId, c.log),
    artifacts: new ObjectStoreArtifacts(nc, c.clusterId),
    snapshots,
    savepoints: new RedisSavepointStore(savepointRedis, { cluster: c.clusterId }, snapshots),
    log: c.log,
    ...(c.heartbeatTimeoutMs ? { heartbeatTimeoutMs: c.heartbeatTimeoutMs } : {}),
    ...(c.slotWaitTimeoutMs ? { slotWaitTimeoutMs: c.slotWaitTimeoutMs } : {}),
    ...(c.workerGoneGraceMs ? { workerGoneGraceMs: c.workerGoneGraceMs } : {}),
  });
  await coordinator.start();
  const rest = createRestServer(coordinator, c.log);
  const address = await rest.listen({ host: c.restHost, port: c.restPort });
  c.log.info({ rest: address, cluster: c.clusterId }, 'coordinator ready');
  return {
    url: address,
    async stop() {
      await rest.close();
      await coordinator.stop();
      await system.shutdown();
      await nc.drain();
      redis.disconnect();
      savepointRedis.disconnect();
    },
  };
}
