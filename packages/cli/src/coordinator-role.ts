import { ActorSystem, NatsTransport } from '@weir/actors';
import { Coordinator, createRestServer } from '@weir/coordinator';
import { JetStreamDataPlane, ObjectStoreArtifacts, RedisSavepointStore, RedisSnapshotStore, subjects } from '@weir/runtime';
import { WeirError } from '@weir/sdk';
import { connectRedis } from './redis.js';
import { connectRole, fatalOnEscalate, Resources, type ClusterConfig, type Running } from './roles.js';

/** A coordinator process: actors over NATS, JetStream channels, Object Store bundles, REST. */
export async function startCoordinator(c: ClusterConfig & { restHost: string; restPort: number; heartbeatTimeoutMs?: number; slotWaitTimeoutMs?: number; workerGoneGraceMs?: number; orphanSavepointAgeMs?: number }): Promise<Running & { url: string }> {
  // Whatever opened before a failure is closed again, so a failed start exits instead of hanging on an open socket.
  const res = new Resources();
  try {
    const { nc, redis } = await connectRole(c, res, 'weir-coordinator');
    // Savepoints get their own connection: an export's or a restore's megabytes of MGET and COPY must
    // not queue ahead of the periodic checkpoints' commits (one connection answers in order).
    const savepointRedis = await connectRedis(c.redisUrl, 'weir-coordinator-savepoints');
    res.add(() => savepointRedis.disconnect());
    const system = new ActorSystem({ name: 'coordinator', transport: new NatsTransport(nc, { prefix: subjects.actorPrefix(c.clusterId) }), logger: c.log, onEscalate: fatalOnEscalate('coordinator', c) });
    res.add(() => system.shutdown());
    const snapshots = new RedisSnapshotStore(redis, { cluster: c.clusterId });
    const coordinator = new Coordinator({
      system,
      clusterId: c.clusterId,
      dataPlane: new JetStreamDataPlane(nc, c.clusterId, c.log),
      artifacts: new ObjectStoreArtifacts(nc, c.clusterId),
      snapshots,
      savepoints: new RedisSavepointStore(savepointRedis, { cluster: c.clusterId }, snapshots),
      log: c.log,
      ...(c.heartbeatTimeoutMs ? { heartbeatTimeoutMs: c.heartbeatTimeoutMs } : {}),
      ...(c.slotWaitTimeoutMs ? { slotWaitTimeoutMs: c.slotWaitTimeoutMs } : {}),
      ...(c.workerGoneGraceMs ? { workerGoneGraceMs: c.workerGoneGraceMs } : {}),
      ...(c.orphanSavepointAgeMs ? { orphanSavepointAgeMs: c.orphanSavepointAgeMs } : {}),
    });
    res.add(() => coordinator.stop());
    const rest = createRestServer(coordinator, c.log);
    res.add(() => rest.close());
    // The port first: a coordinator that cannot serve REST must not take the cluster's actor name.
    const address = await listen(rest, c.restHost, c.restPort);
    await coordinator.start();
    c.log.info({ rest: address, cluster: c.clusterId }, 'coordinator ready');
    return { url: address, stop: () => res.closeAll() };
  } catch (e) {
    await res.closeAll();
    throw e;
  }
}

async function listen(rest: ReturnType<typeof createRestServer>, host: string, port: number): Promise<string> {
  try {
    return await rest.listen({ host, port });
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'EADDRINUSE') {
      throw new WeirError('WEIR_REST_PORT_IN_USE', `REST port ${port} on ${host} is in use (another coordinator or program listens there); stop it, or choose another port with --rest-port`, { cause: e });
    }
    throw new WeirError('WEIR_CONFIG_INVALID', `the REST server cannot listen on ${host}:${port} (${(e as Error).message}); check --rest-host and --rest-port`, { cause: e });
  }
}
