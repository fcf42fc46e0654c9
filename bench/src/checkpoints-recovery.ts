/**
 * bench:checkpoints, part 3 — recovery time of a job with a large keyed state: bench/jobs/keyed-state.ts
 * (N keys, checkpoints every second) at p=2 on a coordinator and two single-slot workers started as
 * separate processes. Once the state holds every key and a checkpoint covering them completed,
 * worker w1 is SIGKILLed at T0 and started again at once (as a supervisor would); the job is polled
 * every 20 ms until it runs and processes again. Repeated after the next completed checkpoint.
 */
import { fileURLToPath } from 'node:url';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { describeCheckpoint, ms, restGet, restPost, vertex, weirCli, type CheckpointEntry, type CheckpointStats, type JobDetails, type Resources } from './checkpoints-common.js';
import { RoleProcesses } from './checkpoints-processes.js';
import { int, sleep, waitFor, withTimeout } from './util.js';

const JOB = fileURLToPath(new URL('../jobs/keyed-state.ts', import.meta.url));
const PARALLELISM = 2;
const POLL_MS = 20;
const VICTIM = 'w1';

export interface RecoveryOptions {
  readonly natsUrl: string;
  readonly redisUrl: string;
  readonly keys: number;
  /** Records/s of the generator (0: as fast as it goes). */
  readonly rate: number;
  readonly kills: number;
  readonly heartbeatTimeoutMs: number;
  readonly log: (line?: string) => void;
}

/** Times after T0 (the SIGKILL), in ms; undefined when not observed within the time limit. */
export interface Recovery {
  readonly kill: number;
  readonly checkpoint: CheckpointEntry;
  /** w1 started again (the previous process had exited). */
  readonly restarted: number;
  /** From the coordinator's log: the new w1 process registered. */
  readonly registered: number | undefined;
  /** Seen by polling: the job left RUNNING (or its attempt changed). */
  readonly detected: number | undefined;
  /** From the coordinator's log: it failed the attempt ('job failing'), and why. */
  readonly failingLog: number | undefined;
  readonly failure: string | undefined;
  /** Polled: state RUNNING with the next attempt. */
  readonly running: number | undefined;
  /** Polled: every subtask of the count operator RUNNING in the new attempt (its state restored). */
  readonly restored: number | undefined;
  /** From the workers' logs: 'state restored' per subtask (ms it took, keys are the bytes read). */
  readonly restoreLogs: { worker: string; ms: number; bytes: number; at: number }[];
  /** Polled (JetStream): the new attempt's data stream got its first frame / its first acked frame. */
  readonly firstFrame: number | undefined;
  readonly firstAck: number | undefined;
  /** Polled: the count operator's recordsIn in the new attempt above 0 (metrics arrive about every second). */
  readonly processing: number | undefined;
  readonly restoredFrom: number | undefined;
}

export interface RecoveryResult {
  readonly recoveries: Recovery[];
  readonly jobId: string;
  readonly restoredCount: number;
  readonly exceptions: string[];
}

export async function measureRecovery(o: RecoveryOptions, resources: Resources): Promise<RecoveryResult> {
  const { log } = o;
  const cluster = new RoleProcesses(o.natsUrl, o.redisUrl, ['--heartbeat-timeout', String(o.heartbeatTimeoutMs)]);
  let nc: NatsConnection | undefined;
  let jobId: string | undefined;
  const resource = resources.add({
    what: 'the recovery cluster',
    stop: async () => {
      if (jobId) {
        // Canceling deletes the job's checkpoints from Redis; the key sweep after the stop gets the rest.
        await restPost(cluster.restUrl, `/jobs/${jobId}/cancel`).catch(() => undefined);
        await waitFor('the job canceled', async () => ((await restGet<JobDetails>(cluster.restUrl, `/jobs/${jobId}`)).state === 'CANCELED' ? true : undefined), 20_000, 100).catch((e) => console.error(`bench: ${String(e)}`));
      }
      const notes = await cluster.stop(nc);
      if (nc) await withTimeout(nc.close(), 5000, 'closing NATS').catch(() => undefined);
      log(`  cluster ${cluster.clusterId} stopped; ${notes.join('; ')}`);
    },
    killNow: () => cluster.killNow(),
  });
  try {
    nc = await withTimeout(connect({ servers: o.natsUrl }), 10_000, `connecting to ${o.natsUrl}`);
    const jsm = await jetstreamManager(nc);
    await cluster.start(['w1', 'w2']);
    log(`recovery: bench/jobs/keyed-state.ts p=${PARALLELISM}, ${int(o.keys)} keys, generator at ${o.rate > 0 ? `${int(o.rate)} records/s` : 'full speed'}, checkpoints every 1000 ms, restart fixed-delay 0 ms`);
    log(`  cluster ${cluster.clusterId} at ${cluster.restUrl}: coordinator --heartbeat-timeout ${o.heartbeatTimeoutMs}, workers w1 (pid ${cluster.pidOf('w1')}), w2 (pid ${cluster.pidOf('w2')}), 1 slot each`);
    const r = await weirCli(['run', JOB, '-p', String(PARALLELISM), '--detach', '--arg', `keys=${o.keys}`, '--arg', `rate=${o.rate}`], { ...cluster.env, WEIR_LOG_LEVEL: 'warn' }, 120_000);
    jobId = r.stdout.trim();
    if (r.code !== 0 || !/^[0-9a-zA-Z_-]+$/.test(jobId)) throw new Error(`weir run exited ${r.code}: ${r.stderr}`);
    const id = jobId;
    const job = () => restGet<JobDetails>(cluster.restUrl, `/jobs/${id}`);
    const checkpoints = () => restGet<CheckpointStats>(cluster.restUrl, `/jobs/${id}/checkpoints`);
    const alive = (v: JobDetails) => {
      if (v.state === 'FAILED' || v.state === 'CANCELED' || v.state === 'FINISHED') throw new Error(`job ${id} ended ${v.state}: ${JSON.stringify(v.failure)}\n${cluster.tail.slice(-30).join('\n')}`);
    };

    // The state: every key written at least once (each source subtask past keys/p records), and ≥ keys records counted.
    const filled = Date.now();
    const fillTimeout = 120_000 + (o.rate > 0 ? (2000 * o.keys) / o.rate : 60_000);
    await waitFor(`the count operator to see ${int(o.keys)} records`, async () => {
      const v = await job();
      alive(v);
      const source = vertex(v, 'keys');
      const count = vertex(v, 'count');
      const allKeys = source !== undefined && source.subtasks.every((s) => s.recordsOut >= Math.ceil(o.keys / PARALLELISM));
      return v.state === 'RUNNING' && allKeys && (count?.recordsIn ?? 0) >= o.keys ? true : undefined;
    }, fillTimeout, 200);
    let since = Date.now();
    log(`  job ${id}: ${int(o.keys)} records counted after ${ms(since - filled)}`);

    const recoveries: Recovery[] = [];
    for (let kill = 1; kill <= o.kills; kill++) {
      const attempt = (await job()).attempt;
      // A checkpoint triggered after `since` and completed: it covers every key.
      const checkpoint = await waitFor(`a checkpoint of attempt ${attempt} triggered after ${new Date(since).toISOString()}`, async () => {
        const c = await checkpoints();
        const done = c.history.find((e) => e.status === 'COMPLETED' && e.triggerTimestamp >= since);
        return done;
      }, 60_000, 50);
      const v = await job();
      alive(v);
      if (v.state !== 'RUNNING' || v.attempt !== attempt) throw new Error(`job ${id} is ${v.state}, attempt ${v.attempt}, before kill ${kill}`);
      log(`  kill ${kill}: after checkpoint ${describeCheckpoint(checkpoint)}`);
      const t0 = await cluster.killWorker(VICTIM);
      cluster.startWorker(VICTIM);
      const restarted = Date.now() - t0;
      const rec = await observe(kill, t0, restarted, attempt + 1, checkpoint);
      recoveries.push(rec);
      log(`    ${describeRecovery(rec)}`);
      if (rec.processing === undefined) throw new Error(`job ${id} did not process again within the time limit after kill ${kill}`);
      since = t0 + rec.processing;
    }

    async function observe(kill: number, t0: number, restarted: number, next: number, checkpoint: CheckpointEntry): Promise<Recovery> {
      const stream = `WEIR_${cluster.clusterId}_${id}_${next}`;
      let detected: number | undefined;
      let running: number | undefined;
      let restored: number | undefined;
      let processing: number | undefined;
      let firstFrame: number | undefined;
      let firstAck: number | undefined;
      const deadline = t0 + 120_000;
      while (Date.now() < deadline && (processing === undefined || restored === undefined || firstAck === undefined)) {
        const [v, s] = await Promise.all([job(), streamState(jsm, stream)]);
        const t = Date.now() - t0;
        alive(v);
        if (detected === undefined && (v.state !== 'RUNNING' || v.attempt > next - 1)) detected = t;
        // Until the new attempt is deployed, the view still shows the old attempt's subtasks and counts.
        if (v.attempt === next && v.state === 'RUNNING') {
          running ??= t;
          const count = vertex(v, 'count');
          if (restored === undefined && count && count.subtasks.every((x) => x.status === 'RUNNING')) restored = t;
          if (processing === undefined && (count?.recordsIn ?? 0) > 0) processing = t;
        }
        if (s && firstFrame === undefined && s.lastSeq > 0) firstFrame = t;
        if (s && firstAck === undefined && s.lastSeq > 0 && s.messages < s.lastSeq) firstAck = t;
        await sleep(POLL_MS);
      }
      const registered = cluster.eventsSince(t0, 'worker registered').find((e) => e.fields.worker === VICTIM);
      const failing = cluster.eventsSince(t0, 'job failing')[0];
      const runningLog = cluster.eventsSince(t0, 'job running')[0];
      const restoreLogs = cluster
        .eventsSince(t0, 'state restored')
        .map((e) => ({ worker: e.role, ms: Number(e.fields.ms), bytes: Number(e.fields.bytes), at: e.time - t0 }));
      const failure = (failing?.fields.failure as { message?: string } | undefined)?.message;
      const restoredFrom = runningLog?.fields.restoredFrom;
      return {
        kill, checkpoint, restarted, registered: registered ? registered.time - t0 : undefined, detected, failingLog: failing ? failing.time - t0 : undefined, failure, running, restored, restoreLogs, firstFrame, firstAck, processing,
        restoredFrom: typeof restoredFrom === 'number' ? restoredFrom : undefined,
      };
    }

    const cps = await checkpoints();
    const ex = await restGet<{ history: { attempt: number; code: string; message: string }[] }>(cluster.restUrl, `/jobs/${id}/exceptions`);
    return { recoveries, jobId: id, restoredCount: cps.counts.restored, exceptions: ex.history.map((e) => `attempt ${e.attempt}: ${e.code} ${e.message}`) };
  } finally {
    await resources.release(resource, 90_000);
  }
}

async function streamState(jsm: JetStreamManager, name: string): Promise<{ lastSeq: number; messages: number } | undefined> {
  try {
    const s = (await jsm.streams.info(name)).state;
    return { lastSeq: s.last_seq, messages: s.messages };
  } catch {
    return undefined; // not created yet
  }
}

const at = (t: number | undefined) => (t === undefined ? 'not seen' : `+${int(t)} ms`);

export function describeRecovery(r: Recovery): string {
  // Source subtasks restore only their position (a few bytes); the keyed count's restores are the ones that matter.
  const restores = r.restoreLogs.filter((x) => x.bytes >= 1000).map((x) => `${x.worker} ${ms(x.ms)} for ${(x.bytes / 1e6).toFixed(1)} MB (done ${at(x.at)})`).join(', ');
  return [
    `T0 = SIGKILL of ${VICTIM}; ${VICTIM} started again ${at(r.restarted)}, registered ${at(r.registered)}; failure seen by polling ${at(r.detected)} (coordinator log ${at(r.failingLog)}: ${r.failure ?? '?'})`,
    `RUNNING again ${at(r.running)}${r.restoredFrom !== undefined ? ` (restoring checkpoint ${r.restoredFrom})` : ''}; keyed state restored: ${restores || 'no log line'}; count subtasks RUNNING ${at(r.restored)}`,
    `first frame on the new data stream ${at(r.firstFrame)}, first frames acked by the count task ${at(r.firstAck)}; count recordsIn > 0 in REST ${at(r.processing)} (metrics every ~1 s)`,
  ].join('\n    ');
}
