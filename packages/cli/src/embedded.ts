import { ActorSystem, InProcessTransport } from '@weir/actors';
import { Coordinator } from '@weir/coordinator';
import { FileSavepointStore, FileSnapshotStore, InProcessDataPlane, MemoryArtifactStore, Worker } from '@weir/runtime';
import type { Logger } from 'pino';
import { JOB_CACHE_DIR } from './cache-dir.js';
import { connectorConnections } from './nats.js';

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
