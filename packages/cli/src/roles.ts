import { randomBytes } from 'node:crypto';
import { ActorSystem, InProcessTransport, NatsTransport } from '@weir/actors';
import { Coordinator, createRestServer } from '@weir/coordinator';
import { FileSavepointStore, FileSnapshotStore, InProcessDataPlane, JetStreamDataPlane, MemoryArtifactStore, ObjectStoreArtifacts, RedisSavepointStore, RedisSnapshotStore, subjects, Worker } from '@weir/runtime';
import type { Logger } from 'pino';
import { JOB_CACHE_DIR } from './cache-dir.js';
import { connectNats, connectorConnections } from './nats.js';
import { connectRedis } from './redis.js';

export interface ClusterConfig {
  readonly natsUrl: string;
  readonly redisUrl: string;
  readonly clusterId: string;
  readonly log: Logger;
}

export interface Running {
  stop(): Promise<void>;
}

/** A coordinator process: actors over NATS, JetStream channels, Object Store bundles, REST. */
export async function startCoordinator(c: ClusterConfig & { restHost: string; restPort: number; heartbeatTimeoutMs?: number; slotWaitTimeoutMs?: number }): Promise<Running & { url: string }> {
  const nc = await connectNats(c.natsUrl, 'weir-coordinator');
  const redis = await connectRedis(c.redisUrl, 'weir-coordinator');
  // Savepoints get their own connection: an export's or a restore's megabytes of MGET and COPY must
  // not queue ahead of the periodic checkpoints' commits (one connection answers in order).
  const savepointRedis = await connectRedis(c.redisUrl, 'weir-coordinator-savepoints').catch((e: unknown) => {
    redis.disconnect();
    throw e;
  });
  const system = new ActorSystem({ name: 'coordinator', transport: new NatsTransport(nc, { prefix: subjects.actorPrefix(c.clusterId) }), logger: c.log });
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

/** A worker process: registers with whichever coordinator serves this cluster id. */
export async function startWorker(c: ClusterConfig & { slots: number; workerId?: string }): Promise<Running> {
  const nc = await connectNats(c.natsUrl, 'weir-worker');
  const redis = await connectRedis(c.redisUrl, 'weir-worker');
  const workerId = c.workerId ?? randomBytes(4).toString('hex');
  const system = new ActorSystem({ name: `worker-${workerId}`, transport: new NatsTransport(nc, { prefix: subjects.actorPrefix(c.clusterId) }), logger: c.log });
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

/**
 * The embedded default: coordinator and one worker in this process, over the in-process
 * transport and channels. Only those two ports differ from a cluster.
 */
export async function startEmbedded(log: Logger, slots: number, natsUrl: string, checkpointDir: string) {
  const transport = new InProcessTransport();
  const system = new ActorSystem({ name: 'embedded', transport, logger: log });
  const dataPlane = new InProcessDataPlane();
  const artifacts = new MemoryArtifactStore();
  const snapshots = new FileSnapshotStore(checkpointDir);
  const savepoints = new FileSavepointStore(checkpointDir, snapshots);
  const coordinator = new Coordinator({ system, dataPlane, artifacts, snapshots, savepoints, log });
  await coordinator.start();
  const conns = connectorConnections(natsUrl);
  // A smaller mailbox than a cluster worker's 64 frames: here every channel is local, so every
  // queued frame is live records on this heap, and the GC copied them over and over (8M words of
  // wordcount: 4.4-4.7 s with 64 frames, 3.1-3.3 s with 16). The in-process data plane already
  // is all local channels (with short queues), so the worker's own same-slot ones are off.
  const worker = new Worker({ workerId: 'embedded', slots, system, dataPlane, artifacts, snapshots, log, cacheDir: JOB_CACHE_DIR, nats: (o) => conns.get(o), taskOptions: { mailboxCapacity: 16 }, localChannels: false });
  await worker.start();
  return {
    coordinator,
    async stop() {
      await worker.stop();
      await coordinator.stop();
      await system.shutdown();
      await conns.close();
    },
  };
}
