/**
 * bench:savepoints — in one run, for bench/jobs/keyed-state.ts with `--keys` keys of keyed state at
 * p=2 on a coordinator and two single-slot workers (separate processes, as `weir cluster up` runs them):
 *
 *  1. Savepoints: `--savepoints` times POST /jobs/:id/savepoints, then a long-polled GET until
 *     COMPLETED; size, the coordinator's record step (log 'savepoint completed'), the checkpoint's
 *     per-subtask sync/async/alignment. Between two savepoints a periodic checkpoint completes, then
 *     savepoint n of S waits (n-1)/S of the checkpoint interval (phases spread over the interval).
 *     The coordinator then compacts the last one in the background (one full base per key group);
 *     the bench waits for that (GET /savepoints/:id shows compactedAt) and reports it.
 *  2. Export of the last savepoint, compacted: GET /savepoints/:id/export, timed to the last byte;
 *     the file is decoded and checked (checksum, blob bytes = sizeBytes).
 *  3. Restore: the job is canceled and submitted again (POST /jobs with fromSavepoint), polled every
 *     20 ms until it is RUNNING with every subtask RUNNING, every subtask logged 'state restored',
 *     and every keyed subtask logged 'state decoded' (its state is whole in memory).
 *  4. The limit: the savepoint's blobs (same names, sizes, bytes, from the export file) written to
 *     Redis with plain pipelined SETs and read back with GETs; then the same with every key-group
 *     blob folded into one full base (the live state's bytes). The ratio uses the faster of the two.
 *     The folded SETs are also measured while the first job still runs (information only).
 *
 * Savepoints are disposed (DELETE /savepoints/:id, then checked gone); jobs are canceled; processes
 * are stopped by pid; the cluster's streams and Redis keys are deleted by its unique prefix.
 * The output ends with `savepoint seconds: X`, `restore seconds: Y`, `savepoint to limit ratio: Z`.
 *
 *   npm run bench:savepoints -- [--keys N] [--rate N] [--savepoints S] [--limit-runs R]
 *   (WEIR_NATS_URL, WEIR_REDIS_URL)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { bundleJob, RestClient } from '@weir/cli';
import { decodeExport, importJobBundle, mergeChain, savepointKeyGroupParts, type SavepointMetadata } from '@weir/runtime';
import { buildJob } from '@weir/sdk';
import { Redis } from 'ioredis';
import { benchFlags, BenchMain } from './bench-main.js';
import { bytes, ms, restGet, vertex, type CheckpointEntry, type JobDetails } from './checkpoints-common.js';
import { RoleProcesses, type LogEvent } from './checkpoints-processes.js';
import { CpuSampler, pidsByName, type CpuWindow } from './procfs.js';
import { RedisProbe, type ProbeFigures } from './redis-probe.js';
import { measureLimit, measureRawIntake, type LimitResult } from './savepoints-limit.js';
import { int, median, sleep, waitFor, withTimeout } from './util.js';

const USAGE = 'usage: npm run bench:savepoints -- [--keys N] [--rate N] [--savepoints S] [--limit-runs R]';
const JOB = fileURLToPath(new URL('../jobs/keyed-state.ts', import.meta.url));
const PARALLELISM = 2;
const POLL_MS = 20;
/** The job's checkpoint interval (bench/jobs/keyed-state.ts). */
const CHECKPOINT_INTERVAL_MS = 1000;

const flags = benchFlags(USAGE, ['keys', 'rate', 'savepoints', 'limit-runs']);
const KEYS = flags.positive('keys', 1_000_000);
const RATE = flags.positive('rate', 200_000, 0);
const SAVEPOINTS = flags.positive('savepoints', 5);
const LIMIT_RUNS = flags.positive('limit-runs', 7);
/** Untimed limit runs first: see measureLimit. */
const LIMIT_WARMUPS = 3;
const NATS_URL = process.env.WEIR_NATS_URL || 'nats://127.0.0.1:4222';
const REDIS_URL = process.env.WEIR_REDIS_URL || 'redis://127.0.0.1:6379';

const log = (line = '') => console.log(line);
const bench = new BenchMain(90_000);
const { resources } = bench;

/** An asynchronous operation (savepoint, disposal) as GET returns it. */
interface Operation {
  requestId: string;
  status: 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
  startedAt: number;
  endedAt: number | null;
  result: { savepoint?: { id: string; location: string; checkpointId: number; sizeBytes: number } } | null;
  error: { code: string; message: string } | null;
}

/** GET /savepoints/:id (the fields read here). */
interface SavepointMeta {
  operators: Record<string, { uid: string; kind: string; keyGroups: Record<string, string>; operatorState: Record<string, string>; bytes: number }>;
}

/** An entry of GET /jobs/:id/checkpoints `history`. */
interface CheckpointRecord extends CheckpointEntry {
  isSavepoint: boolean;
  latestAckTimestamp: number | null;
  subtasks: { subtask: string; ackTimestamp: number; syncMs: number; asyncMs: number; alignmentMs: number; startDelayMs?: number; stateBytes: number; writtenBytes: number; packedAheadBytes?: number }[];
}

/** A failure of the savepoint feature itself (not of the bench): reported with the cluster's logs. */
class FeatureError extends Error {}

/** Wall-clock interval (ms since epoch) of a phase, for the CPU figures. */
interface Window {
  from: number;
  to: number;
}

interface SavepointFigures {
  n: number;
  id: string;
  location: string;
  sizeBytes: number;
  checkpointId: number;
  /** Client: POST sent -> a GET saw COMPLETED (polled every 20 ms). */
  totalMs: number;
  /** Client: the POST's answer (202 with a request id). */
  postMs: number;
  /** Coordinator: the operation's startedAt -> endedAt. */
  operationMs: number;
  /** Coordinator log 'savepoint completed': copy into the savepoint store; trigger -> copied. */
  copyMs: number | undefined;
  /** Coordinator log 'savepoint completed' of a detached savepoint: fence + size check + metadata. */
  completeMs: number | undefined;
  logMs: number | undefined;
  /** Coordinator log 'checkpoint completed' of the savepoint's checkpoint: trigger -> metadata committed. */
  checkpointLogMs: number | undefined;
  checkpoint: CheckpointRecord | undefined;
  /** Periodic checkpoints in progress at some point of the savepoint. */
  overlapping: CheckpointRecord[];
  operators: { uid: string; kind: string; keyGroups: number; blobs: number; bytes: number }[];
  window: Window;
}

interface ExportFigures {
  fileBytes: number;
  metadata: SavepointMetadata;
  blobs: { name: string; bytes: Uint8Array }[];
  /** fetch resolved (headers: the coordinator had read and encoded the whole file) / last byte received. */
  headersMs: number;
  totalMs: number;
  decodeMs: number;
  /** The same file downloaded again with fetch() + arrayBuffer() (as the CLI does): headers / last byte. */
  fetchHeadersMs: number;
  fetchMs: number;
  window: Window;
}

interface RestoreFigures {
  jobId: string;
  /** ms after T0 = POST /jobs sent. */
  submitted: number;
  running: number | undefined;
  allRunning: number | undefined;
  /** readMs/applyMs: the worker's read from Redis and its decoding into the working state. */
  restores: { task: string; subtask: number; worker: string; ms: number; readMs: number; applyMs: number; blobs: number; bytes: number; at: number }[];
  lastRestoreLog: number | undefined;
  /** The result: max(every subtask RUNNING in REST, last 'state restored' line, last 'state decoded' line). */
  done: number;
  restoredFrom: unknown;
  processing: number | undefined;
  /** The last 'state decoded' line (every key group restored lazily is decoded), ms after T0; not part of the figure. */
  decoded: number | undefined;
  window: Window;
}

interface DisposeFigures {
  id: string;
  ms: number;
  keysLeft: number;
  getStatus: number;
}

/** The background compaction of the last savepoint (coordinator log 'savepoint compacted'). */
interface CompactionFigures {
  bytesBefore: number;
  bytesAfter: number;
  /** The compaction itself (log `ms`). */
  ms?: number;
  /** From COMPLETED of the savepoint to compactedAt (includes the compactor's quiet delay). */
  afterCompletedMs: number;
}

interface Results {
  savepoints: SavepointFigures[];
  compaction?: CompactionFigures;
  export?: ExportFigures;
  restore?: RestoreFigures;
  limit?: LimitResult;
  /** The same state with every key-group blob folded into one full base (the format-1 size). */
  compactLimit?: LimitResult;
  /** Redis's own intake of the folded state's SETs (raw socket, pre-encoded): information, not in the ratio. */
  rawIntake?: number[];
  /** The folded limit measured while the first job still runs (information, not the ratio). */
  loadedLimit?: LimitResult;
  disposals: DisposeFigures[];
  indexLeft?: number;
  cpu: { steady?: string; savepoints: string[]; export?: string; restore?: string; limit?: string };
  /** Another client's PINGs to the same Redis: over 2 s of the job alone, then from the first savepoint to the compaction's end. */
  probe: { steady?: ProbeFigures; savepoints?: ProbeFigures };
}

async function main(): Promise<boolean> {
  log(`bench:savepoints — ${new Date().toISOString()}, ${os.availableParallelism()} cores, Node ${process.version}; NATS ${NATS_URL}, Redis ${REDIS_URL}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  // Log lines of the savepoint, its checkpoint and the restore, besides the default ones.
  const cluster = new RoleProcesses(NATS_URL, REDIS_URL, [], {
    idPrefix: 'benchsp',
    extraEvents: ['job submitted', 'checkpoint completed', 'checkpoint aborted', 'savepoint completed', 'savepoint compacted', 'state decoded'],
    tailLines: 300,
  });
  const rest = () => new RestClient(cluster.restUrl);
  let nc: NatsConnection | undefined;
  let cacheDir: string | undefined;
  const jobs: string[] = [];
  /** Savepoints taken and not disposed yet. */
  const live = new Set<string>();
  const tailText = (n = 60) => cluster.tail.slice(-n).join('\n');

  const resource = resources.add({
    what: 'the savepoint cluster',
    stop: async () => {
      for (const id of jobs) {
        const v = await restGet<JobDetails>(cluster.restUrl, `/jobs/${id}`).catch(() => undefined);
        if (!v || ['CANCELED', 'FINISHED', 'FAILED'].includes(v.state)) continue;
        await rest().request('POST', `/jobs/${id}/cancel`).catch(() => undefined);
        await waitFor(`job ${id} canceled`, async () => (['CANCELED', 'FAILED'].includes((await restGet<JobDetails>(cluster.restUrl, `/jobs/${id}`)).state) ? true : undefined), 20_000, 100).catch((e) => console.error(`bench: ${String(e)}`));
      }
      // The key sweep below would get them too (same cluster prefix); disposing is the feature's own way.
      for (const id of [...live]) await dispose(id).catch((e) => console.error(`bench: disposing ${id}: ${String(e)}`));
      const notes = await cluster.stop(nc);
      if (nc) await withTimeout(nc.close(), 5000, 'closing NATS').catch(() => undefined);
      if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
      log(`  cluster ${cluster.clusterId} stopped (pids ${cluster.pids()}); ${notes.join('; ')}`);
    },
    killNow: () => cluster.killNow(),
  });

  const job = (id: string) => restGet<JobDetails>(cluster.restUrl, `/jobs/${id}`);
  const checkpoints = (id: string) => restGet<{ history: CheckpointRecord[] }>(cluster.restUrl, `/jobs/${id}/checkpoints`);
  const alive = (v: JobDetails) => {
    if (v.state === 'FAILED' || v.state === 'CANCELED' || v.state === 'FINISHED') throw new FeatureError(`job ${v.id} ended ${v.state}: ${JSON.stringify(v.failure)}\n${tailText()}`);
    const crash = cluster.crashed();
    if (crash) throw new FeatureError(`${crash}\n${tailText()}`);
  };
  const cancel = async (id: string) => {
    await rest().request('POST', `/jobs/${id}/cancel`);
    await waitFor(`job ${id} CANCELED`, async () => ((await job(id)).state === 'CANCELED' ? true : undefined), 30_000, 50);
    await waitFor('every slot free again', async () => ((await restGet<{ slotsAvailable: number }>(cluster.restUrl, '/overview')).slotsAvailable >= PARALLELISM ? true : undefined), 30_000, 50);
  };

  /** DELETE /savepoints/:id, polled until the disposal COMPLETED (bounded); ms it took. */
  async function dispose(id: string): Promise<number> {
    const t0 = Date.now();
    const { requestId } = await rest().request<{ requestId: string }>('DELETE', `/savepoints/${id}`);
    await waitFor(`disposal of ${id}`, async () => {
      const op = await restGet<Operation>(cluster.restUrl, `/savepoints/disposal/${requestId}?waitMs=10000`);
      if (op.status === 'FAILED') throw new FeatureError(`disposing ${id} failed: ${op.error?.code}: ${op.error?.message}`);
      return op.status === 'COMPLETED' ? true : undefined;
    }, 60_000, POLL_MS);
    live.delete(id);
    return Date.now() - t0;
  }

  /** Dispose of a savepoint, then check: GET answers 404 and no key is left under its prefix. */
  async function disposeAndCheck(id: string): Promise<DisposeFigures> {
    const t = await dispose(id);
    const res = await fetch(new URL(`/savepoints/${id}`, cluster.restUrl), { signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    const keysLeft = await withRedis(async (redis) => {
      let n = 0;
      let cursor = '0';
      for (let round = 0; round < 100_000; round++) {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `weir:{${cluster.clusterId}:${id}}:*`, 'COUNT', 1000);
        n += keys.length;
        cursor = next;
        if (cursor === '0') return n;
      }
      throw new Error(`SCAN for the keys of ${id} did not finish`);
    });
    if (res.status !== 404 || keysLeft > 0) throw new FeatureError(`after disposing ${id}: GET /savepoints/${id} answered HTTP ${res.status}, ${keysLeft} keys left under its prefix`);
    return { id, ms: t, keysLeft, getStatus: res.status };
  }

  const results: Results = { savepoints: [], disposals: [], cpu: { savepoints: [] }, probe: {} };
  let failure: string | undefined;
  let sampler: CpuSampler | undefined;
  const windows: { steady?: Window; limit?: Window } = {};
  try {
    nc = await withTimeout(connect({ servers: NATS_URL }), 10_000, `connecting to ${NATS_URL}`);
    await cluster.start(['w1', 'w2']);
    log(`cluster ${cluster.clusterId} at ${cluster.restUrl}: coordinator + workers w1, w2 (1 slot each), pids ${cluster.pids()}`);
    // CPU of the cluster, Redis, nats-server and this process every 100 ms, reported per phase (read-only).
    const others = new Map<string, number>([['bench', process.pid]]);
    for (const name of ['redis-server', 'nats-server']) {
      const pids = pidsByName(name);
      if (pids.length === 1) others.set(name.replace('-server', ''), pids[0]!);
    }
    sampler = new CpuSampler(() => new Map([...cluster.pidsByRole(), ...others]), 100);

    // The job: bundled and described here (as `weir run` does), so both submissions are plain REST calls.
    const bundle = await withTimeout(bundleJob(JOB), 60_000, `bundling ${JOB}`);
    cacheDir = mkdtempSync(join(os.tmpdir(), 'weir-bench-savepoints-'));
    const args = { keys: String(KEYS), rate: String(RATE) };
    const { description } = buildJob(await withTimeout(importJobBundle(bundle, cacheDir), 60_000, 'importing the job bundle'), { args, parallelism: PARALLELISM });
    const { artifact } = await rest().request<{ artifact: string }>('POST', '/artifacts', bundle, 'application/octet-stream');
    const submit = (extra: Record<string, unknown> = {}) => rest().request<{ jobId: string }>('POST', '/jobs', { artifact, description, args, parallelism: PARALLELISM, ...extra });

    // ---- 1. the state, then the savepoints
    const { jobId } = await submit();
    jobs.push(jobId);
    log(`job ${jobId}: bench/jobs/keyed-state.ts p=${PARALLELISM}, ${int(KEYS)} keys, generator at ${RATE > 0 ? `${int(RATE)} records/s` : 'full speed'}, checkpoints every ${CHECKPOINT_INTERVAL_MS} ms`);
    const filling = Date.now();
    await waitFor(`the count operator to see ${int(KEYS)} records`, async () => {
      const v = await job(jobId);
      alive(v);
      const source = vertex(v, 'keys');
      const count = vertex(v, 'count');
      const allKeys = source !== undefined && source.subtasks.every((s) => s.recordsOut >= Math.ceil(KEYS / PARALLELISM));
      return v.state === 'RUNNING' && allKeys && (count?.recordsIn ?? 0) >= KEYS ? true : undefined;
    }, 120_000 + (RATE > 0 ? (3000 * KEYS) / RATE : 60_000), 200);
    log(`  ${int(KEYS)} records counted after ${ms(Date.now() - filling)}`);
    windows.steady = { from: Date.now() - 2000, to: Date.now() };
    // How long Redis keeps another client waiting: 2 s of the job alone, then the savepoints.
    const probe = new RedisProbe(REDIS_URL);
    const probeResource = resources.add({ what: 'the Redis probe', stop: () => probe.stop(), killNow: () => probe.kill() });
    await probe.start();
    const probeFrom = Date.now();
    await sleep(2000);
    results.probe.steady = probe.figures(probeFrom, Date.now());
    const savepointsFrom = Date.now();
    for (let n = 1; n <= SAVEPOINTS; n++) {
      if (n > 1) {
        // Back to the steady state: a periodic checkpoint triggered after the last savepoint completes.
        const after = results.savepoints[n - 2]!.window.to;
        await waitFor('a periodic checkpoint after the savepoint', async () => ((await checkpoints(jobId)).history.some((c) => !c.isSavepoint && c.status === 'COMPLETED' && c.triggerTimestamp > after) ? true : undefined), 30_000, 50);
        // The previous one is not needed any more (the last one is exported and restored).
        results.disposals.push(await disposeAndCheck(results.savepoints[n - 2]!.id));
        // Then a spread of phases within the checkpoint interval: right after a checkpoint the
        // savepoint's tail (the rows changed since the last capture) is smallest, which would
        // flatter every savepoint after the first.
        await sleep(Math.round(((n - 1) / SAVEPOINTS) * CHECKPOINT_INTERVAL_MS));
      }
      const sp = await takeSavepoint(jobId, n);
      results.savepoints.push(sp);
      log(`  savepoint ${n} ${sp.id}: ${ms(sp.totalMs)} POST -> COMPLETED, ${bytes(sp.sizeBytes)} (${sp.location})`);
    }
    const taken = results.savepoints[results.savepoints.length - 1]!;
    const compaction = (results.compaction = await awaitCompaction(taken));
    if (compaction) log(`  compacted ${taken.id} in the background: ${bytes(compaction.bytesBefore)} -> ${bytes(compaction.bytesAfter)}, ${compaction.ms === undefined ? '?' : ms(compaction.ms)} of work, compactedAt ${ms(compaction.afterCompletedMs)} after COMPLETED`);
    else log(`  ${taken.id} has one part per key group: nothing to compact`);
    results.probe.savepoints = probe.figures(savepointsFrom, Date.now());
    await resources.release(probeResource);
    if (probe.error) throw new Error(`the Redis probe failed: ${String(probe.error)}`);
    const sp = { ...taken, sizeBytes: compaction?.bytesAfter ?? taken.sizeBytes };

    // ---- 2. export
    const ex = (results.export = await exportSavepoint(sp));
    log(`  export of ${sp.id}: ${bytes(ex.fileBytes)} in ${ms(ex.totalMs)} (${ex.blobs.length} blobs, checksum and sizes checked)`);

    // The folded limit once more while the job still runs at its rate, as the savepoints did:
    // information only (how much the job's load slows plain writes); the ratio uses the idle one.
    const compact = foldedBlobs(ex.metadata, ex.blobs);
    const loadedLimit = (results.loadedLimit = await measureLimit({ redisUrl: REDIS_URL, clusterId: cluster.clusterId, blobs: compact, runs: LIMIT_RUNS, warmups: LIMIT_WARMUPS, pipelineBytes: Number.POSITIVE_INFINITY }));
    log(`  limit of the folded state while the job runs: ${loadedLimit.runs.map((r, i) => `run ${i + 1}: SET ${ms(r.writeMs)}`).join('; ')}`);

    // ---- 3. restore into a new job (the old one is canceled first: 2 slots in all)
    await cancel(jobId);
    const rs = (results.restore = await restore(sp, submit));
    log(`  restore: job ${rs.jobId} RUNNING with every subtask restored ${ms(rs.done)} after POST /jobs`);
    await cancel(rs.jobId);

    // ---- 4. the limit, with the savepoint's own blobs, and with the same state as one full base
    // per key group (what a format-1 savepoint holds): fewer bytes, so a faster, stricter limit.
    const limitFrom = Date.now();
    const limit = (results.limit = await measureLimit({ redisUrl: REDIS_URL, clusterId: cluster.clusterId, blobs: ex.blobs, runs: LIMIT_RUNS, warmups: LIMIT_WARMUPS, pipelineBytes: Number.POSITIVE_INFINITY }));
    windows.limit = { from: limitFrom, to: Date.now() };
    log(`  limit: ${limit.runs.map((r, i) => `run ${i + 1}: SET ${ms(r.writeMs)}, GET ${ms(r.readMs)}`).join('; ')}`);
    const compactLimit = (results.compactLimit = await measureLimit({ redisUrl: REDIS_URL, clusterId: cluster.clusterId, blobs: compact, runs: LIMIT_RUNS, warmups: LIMIT_WARMUPS, pipelineBytes: Number.POSITIVE_INFINITY }));
    log(`  limit of the live state as one base per key group (${bytes(compactLimit.bytes)}): ${compactLimit.runs.map((r, i) => `run ${i + 1}: SET ${ms(r.writeMs)}, GET ${ms(r.readMs)}`).join('; ')}`);
    results.rawIntake = await measureRawIntake({ redisUrl: REDIS_URL, clusterId: cluster.clusterId, blobs: compact, runs: LIMIT_RUNS, warmups: LIMIT_WARMUPS });

    // ---- dispose of the last savepoint, and check that nothing of any is left
    results.disposals.push(await disposeAndCheck(sp.id));
    results.indexLeft = await withRedis((redis) => redis.zcard(cluster.savepointIndexKey));
    log(`  ${results.disposals.length} savepoint(s) disposed; savepoint index entries left: ${results.indexLeft}`);
  } catch (e) {
    if (bench.interrupted) return false;
    failure = (e as Error).message;
    console.error(`bench: ${e instanceof FeatureError ? 'the savepoint feature failed' : 'failed'}: ${(e as Error).stack ?? String(e)}`);
    if (!(e instanceof FeatureError)) console.error(`last log lines of the cluster:\n${tailText(40)}`);
  } finally {
    sampler?.stop();
    await resources.release(resource, 120_000);
  }

  async function takeSavepoint(jobId: string, n: number): Promise<SavepointFigures> {
    const t0 = Date.now();
    const { requestId } = await rest().request<{ requestId: string }>('POST', `/jobs/${jobId}/savepoints`);
    const postMs = Date.now() - t0;
    const op = await waitFor('the savepoint COMPLETED', async () => {
      // A long poll: the answer comes when the savepoint ends (docs/rest.md).
      const o = await restGet<Operation>(cluster.restUrl, `/jobs/${jobId}/savepoints/${requestId}?waitMs=10000`);
      if (o.status === 'FAILED') throw new FeatureError(`savepoint request ${requestId} FAILED: ${o.error?.code}: ${o.error?.message}\n${tailText()}`);
      return o.status === 'COMPLETED' ? o : undefined;
    }, 120_000, POLL_MS);
    const totalMs = Date.now() - t0;
    const s = op.result?.savepoint;
    if (!s) throw new FeatureError(`savepoint request ${requestId} COMPLETED without a savepoint: ${JSON.stringify(op.result)}`);
    live.add(s.id);
    const meta = await restGet<SavepointMeta>(cluster.restUrl, `/savepoints/${s.id}`);
    // Log lines come through a pipe: give them a moment.
    const spLog = await waitFor('the log line "savepoint completed"', () => cluster.eventsSince(t0, 'savepoint completed', (e) => e.fields.savepoint === s.id)[0], 5000, 50).catch(() => undefined);
    const cpLog = cluster.eventsSince(t0, 'checkpoint completed', (e) => e.fields.checkpoint === s.checkpointId && e.role === 'coordinator' && e.fields.job === jobId)[0];
    const history = (await checkpoints(jobId)).history;
    const checkpoint = history.find((c) => c.id === s.checkpointId);
    const end = t0 + totalMs;
    const overlapping = history.filter((c) => !c.isSavepoint && c.triggerTimestamp < end && c.triggerTimestamp + c.endToEndDurationMs > t0);
    const num = (e: LogEvent | undefined, f: string) => (e && typeof e.fields[f] === 'number' ? (e.fields[f] as number) : undefined);
    return {
      n,
      id: s.id,
      location: s.location,
      sizeBytes: s.sizeBytes,
      checkpointId: s.checkpointId,
      totalMs,
      postMs,
      operationMs: (op.endedAt ?? op.startedAt) - op.startedAt,
      copyMs: num(spLog, 'copyMs'),
      completeMs: num(spLog, 'completeMs'),
      logMs: num(spLog, 'ms'),
      checkpointLogMs: num(cpLog, 'ms'),
      checkpoint,
      overlapping,
      operators: Object.values(meta.operators).map((o) => ({ uid: o.uid, kind: o.kind, keyGroups: Object.keys(o.keyGroups).length, blobs: Object.keys(o.keyGroups).length + Object.keys(o.operatorState).length, bytes: o.bytes })),
      window: { from: t0, to: end },
    };
  }

  /** Waits until the coordinator compacted savepoint `s` (it has key groups of parts: it was taken of a running job). */
  async function awaitCompaction(s: SavepointFigures): Promise<CompactionFigures | undefined> {
    type Meta = SavepointMeta & { compactedAt?: number; sizeBytes: number; operators: Record<string, { keyGroupParts?: Record<string, number> }> };
    const get = () => restGet<Meta>(cluster.restUrl, `/savepoints/${s.id}`);
    // One part per key group already (a savepoint right after a new base, or a tiny state): nothing to fold.
    const first = await get();
    if (first.compactedAt === undefined && Object.values(first.operators).every((o) => !o.keyGroupParts)) return undefined;
    const meta = await waitFor(`savepoint ${s.id} compacted`, async () => {
      const m = await get();
      return m.compactedAt !== undefined ? m : undefined;
    }, 120_000, 50);
    const line = await waitFor('the log line "savepoint compacted"', () => cluster.eventsSince(s.window.from, 'savepoint compacted', (e) => e.fields.savepoint === s.id)[0], 5000, 50).catch(() => undefined);
    return { bytesBefore: s.sizeBytes, bytesAfter: meta.sizeBytes, ms: typeof line?.fields.ms === 'number' ? line.fields.ms : undefined, afterCompletedMs: meta.compactedAt! - s.window.to };
  }

  async function exportSavepoint(s: SavepointFigures): Promise<ExportFigures> {
    const url = new URL(`/savepoints/${s.id}/export`, cluster.restUrl);
    const from = Date.now();
    const got = await httpGet(url, 120_000);
    const window = { from, to: Date.now() };
    if (got.status !== 200) throw new FeatureError(`GET ${url.pathname}: HTTP ${got.status}: ${got.body.subarray(0, 500).toString('utf8')}`);
    const file = new Uint8Array(got.body.buffer, got.body.byteOffset, got.body.byteLength);
    const d0 = performance.now();
    const decoded = decodeExport(file); // checks the framing and the SHA-256
    const decodeMs = performance.now() - d0;
    const sum = decoded.blobs.reduce((n, b) => n + b.bytes.byteLength, 0);
    if (decoded.metadata.id !== s.id || sum !== s.sizeBytes) throw new FeatureError(`export of ${s.id}: metadata id ${decoded.metadata.id}, ${sum} blob bytes, the savepoint says ${s.sizeBytes}`);
    // The same download with fetch() + arrayBuffer(), as the CLI's RestClient.bytes() does it (informational).
    const f0 = performance.now();
    const res = await fetch(url, { signal: AbortSignal.timeout(120_000) });
    const fetchHeadersMs = performance.now() - f0;
    const fetched = (await res.arrayBuffer()).byteLength;
    const fetchMs = performance.now() - f0;
    if (fetched !== file.byteLength) throw new FeatureError(`the export of ${s.id} was ${file.byteLength} bytes, then ${fetched}`);
    return { fileBytes: file.byteLength, metadata: decoded.metadata, blobs: decoded.blobs.map((b) => ({ name: b.name, bytes: b.bytes })), headersMs: got.headersMs, totalMs: got.totalMs, decodeMs, fetchHeadersMs, fetchMs, window };
  }

  async function restore(s: SavepointFigures, submit: (extra: Record<string, unknown>) => Promise<{ jobId: string }>): Promise<RestoreFigures> {
    const t0 = Date.now();
    const { jobId } = await submit({ fromSavepoint: s.id });
    const submitted = Date.now() - t0;
    jobs.push(jobId);
    let running: number | undefined;
    let allRunning: number | undefined;
    let subtasks = 0;
    const restoredLogs = () => cluster.eventsSince(t0, 'state restored', (e) => e.fields.job === jobId);
    const deadline = t0 + 120_000;
    for (;;) {
      const v = await job(jobId);
      const t = Date.now() - t0;
      alive(v);
      if (v.state === 'RUNNING') {
        running ??= t;
        // A task reports RUNNING only once its restore is done.
        if (allRunning === undefined && v.vertices.every((x) => x.subtasks.every((st) => st.status === 'RUNNING'))) allRunning = t;
        const tasks = new Map<number, number>();
        for (const x of v.vertices as (JobDetails['vertices'][number] & { task: number; parallelism: number })[]) tasks.set(x.task, x.parallelism);
        subtasks = [...tasks.values()].reduce((sum, p) => sum + p, 0);
      }
      if (allRunning !== undefined && restoredLogs().length >= subtasks) break;
      if (Date.now() > deadline) throw new FeatureError(`job ${jobId} (from ${s.id}) not RUNNING with every subtask restored within 120 s: state ${v.state}, ${restoredLogs().length} of ${subtasks} 'state restored' lines\n${tailText()}`);
      await sleep(POLL_MS);
    }
    const restores = restoredLogs().map((e) => ({
      task: String(e.fields.task),
      subtask: Number(e.fields.subtask),
      worker: e.role,
      ms: Number(e.fields.ms),
      readMs: Number(e.fields.readMs),
      applyMs: Number(e.fields.applyMs),
      blobs: Number(e.fields.blobs),
      bytes: Number(e.fields.bytes),
      at: e.time - t0,
    }));
    const lastRestoreLog = restores.length > 0 ? Math.max(...restores.map((r) => r.at)) : undefined;
    const decodedLines = await waitFor('every keyed subtask decoded its state', () => {
      const lines = cluster.eventsSince(t0, 'state decoded', (e) => e.fields.job === jobId);
      return lines.length >= restores.filter((r) => r.bytes >= 1000).length ? lines : undefined;
    }, 30_000, 20).catch(() => []);
    const decoded = decodedLines.length > 0 ? Math.max(...decodedLines.map((e) => e.time - t0)) : undefined;
    // Sinks' operator state (their pending transactions) stays with the job that took the savepoint: not restored.
    const sinkBytes = s.operators.filter((o) => o.kind === 'sink' && o.keyGroups === 0).reduce((sum, o) => sum + o.bytes, 0);
    const restoredBytes = restores.reduce((sum, r) => sum + r.bytes, 0);
    if (restoredBytes !== s.sizeBytes - sinkBytes) throw new FeatureError(`job ${jobId} restored ${restoredBytes} bytes from ${s.id}, which holds ${s.sizeBytes} (${sinkBytes} of them sinks' operator state, not restored)`);
    const runningLog = cluster.eventsSince(t0, 'job running', (e) => e.fields.job === jobId)[0];
    // Done once the state is whole in memory: a task runs before its key groups are decoded (lazy
    // restore), but with keys spread over every key group its first records decode them all anyway.
    if (decoded === undefined) throw new FeatureError(`job ${jobId} (from ${s.id}): not every keyed subtask logged 'state decoded' within 30 s\n${tailText()}`);
    const done = Math.max(allRunning!, lastRestoreLog ?? 0, decoded);
    // Informational, after the measurement: the restored job counts records (metrics reach REST about once a second).
    let processing: number | undefined;
    await waitFor('the restored job to count records', async () => {
      const v = await job(jobId);
      alive(v);
      return (vertex(v, 'count')?.recordsIn ?? 0) > 0 ? (processing = Date.now() - t0) : undefined;
    }, 30_000, 50);
    return { jobId, submitted, running, allRunning, restores, lastRestoreLog, done, restoredFrom: runningLog?.fields.restoredFrom, processing, decoded, window: { from: t0, to: t0 + done } };
  }

  if (bench.interrupted) return false;
  const cpu = (w: Window | undefined) => {
    const c = w && sampler?.window(w.from - 100, w.to + 100);
    return c ? describeCpu(c) : 'no CPU samples';
  };
  results.cpu = {
    steady: cpu(windows.steady),
    savepoints: results.savepoints.map((s) => cpu(s.window)),
    export: cpu(results.export?.window),
    restore: cpu(results.restore?.window),
    limit: cpu(windows.limit),
  };
  report(results);
  if (failure) log(`FAILED: ${failure.split('\n')[0]}`);
  log('');
  const savepointMs = results.savepoints.length > 0 ? median(results.savepoints.map((s) => s.totalMs)) : undefined;
  // The stricter of the two limits: the live state's bytes (one base per key group) are fewer than
  // the savepoint's own when its blobs carry deltas, so they are written faster.
  const limits = [results.limit, results.compactLimit].flatMap((l) => (l ? [median(l.runs.map((r) => r.writeMs))] : []));
  const writeMs = limits.length > 0 ? Math.min(...limits) : undefined;
  // Both ratios, for the record: a single limit run takes either about 5-7 ms or 35-60 ms here, so
  // either median can land in the slow mode (bench/README.md, runs 39-46).
  if (savepointMs !== undefined && results.limit && results.compactLimit) {
    const ratio = (l: { runs: { writeMs: number }[] }) => (savepointMs / median(l.runs.map((r) => r.writeMs))).toFixed(2);
    const raw = results.rawIntake && results.rawIntake.length > 0 ? `; against Redis's raw intake of the folded state, information only, ${(savepointMs / median(results.rawIntake)).toFixed(2)}` : '';
    // The savepoints are taken while the job runs, the limits above once it is canceled: the same
    // SETs under the job's load compare like with like (information, not the ratio's denominator).
    const loaded = results.loadedLimit ? `; against the folded state's SETs while the job runs, information only, ${ratio(results.loadedLimit)}` : '';
    log(`(ratio against the savepoint's own bytes ${ratio(results.limit)}, against the folded live state ${ratio(results.compactLimit)}; the line below uses the faster limit${raw}${loaded})`);
  }
  log(`savepoint seconds: ${savepointMs !== undefined ? (savepointMs / 1000).toFixed(3) : 'n/a'}`);
  log(`restore seconds: ${results.restore ? (results.restore.done / 1000).toFixed(3) : 'n/a'}`);
  log(`savepoint to limit ratio: ${savepointMs !== undefined && writeMs !== undefined ? (savepointMs / writeMs).toFixed(2) : 'n/a'}`);
  return failure === undefined;
}

/** GET with node:http: status, the time to the response headers and to the last byte, the body. Bounded. */
function httpGet(url: URL, timeoutMs: number): Promise<{ status: number; headersMs: number; totalMs: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(url, (res) => {
      const headersMs = performance.now() - t0;
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => (clearTimeout(timer), resolve({ status: res.statusCode ?? 0, headersMs, totalMs: performance.now() - t0, body: Buffer.concat(parts) })));
      res.on('error', (e) => (clearTimeout(timer), reject(e)));
    });
    const timer = setTimeout(() => req.destroy(new Error(`GET ${url.pathname} did not end within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (e) => (clearTimeout(timer), reject(e)));
  });
}

async function withRedis<T>(fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, lazyConnect: true });
  try {
    await withTimeout(redis.connect(), 10_000, `connecting to ${REDIS_URL}`);
    return await withTimeout(fn(redis), 60_000, 'a Redis check');
  } finally {
    redis.disconnect();
  }
}

const pad = (rows: string[][]): string[] => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
};
const signed = (t: number) => `${t < 0 ? '-' : '+'}${ms(Math.abs(t))}`;
const at = (t: number | undefined) => (t === undefined ? 'not seen' : `+${ms(t)}`);
const mbps = (n: number, msTaken: number) => `${(n / 1e6 / (msTaken / 1000)).toFixed(0)} MB/s`;

function describeCpu(c: CpuWindow): string {
  const parts = [...c.perProcess].map(([label, pct]) => `${label} ${pct.toFixed(0)}%`);
  return `machine ${c.machineBusy.toFixed(0)}% busy over ${ms(c.wallMs)}; ${parts.join(', ')}`;
}

function report(r: Results): void {
  log('');
  log(`=== results (${int(KEYS)} keys, p=${PARALLELISM}, generator at ${RATE > 0 ? `${int(RATE)} records/s` : 'full speed'}) ===`);
  const rows: string[][] = [['what', 'figure', 'details']];
  for (const sp of r.savepoints) {
    const c = sp.checkpoint;
    rows.push([`savepoint ${sp.n}, POST -> COMPLETED`, ms(sp.totalMs), `${sp.id}; POST answered in ${ms(sp.postMs)}; coordinator operation ${ms(sp.operationMs)}; GET ...?waitMs (long poll) for the end`]);
    if (c) {
      rows.push(['  checkpoint: trigger -> last ack', c.latestAckTimestamp ? ms(c.latestAckTimestamp - c.triggerTimestamp) : '?', `#${c.id}${c.isSavepoint ? ' (savepoint)' : ''}; max over subtasks: sync ${ms(c.syncMs)}, async ${ms(c.asyncMs)}, alignment ${ms(c.alignmentMs)}; written ${bytes(c.checkpointedBytes)}`]);
      for (const st of [...c.subtasks].sort((a, b) => a.subtask.localeCompare(b.subtask))) {
        if (st.writtenBytes >= 1000) rows.push([`    subtask ${st.subtask}`, `+${ms(st.ackTimestamp - c.triggerTimestamp)}`, `acked; barrier in +${ms(st.startDelayMs ?? 0)}, sync ${ms(st.syncMs)}, async ${ms(st.asyncMs)}, alignment ${ms(st.alignmentMs)}, written ${bytes(st.writtenBytes)} (${bytes(st.packedAheadBytes ?? 0)} of it packed ahead)`]);
      }
      const sources = c.subtasks.filter((st) => st.writtenBytes < 1000);
      if (sources.length > 0) rows.push(['    small subtasks (sources)', '', sources.map((st) => `${st.subtask} acked +${ms(st.ackTimestamp - c.triggerTimestamp)} (trigger in +${ms(st.startDelayMs ?? 0)}, async ${ms(st.asyncMs)} for ${st.writtenBytes} B)`).join('; ')]);
    } else rows.push(['  checkpoint', '?', `#${sp.checkpointId} not in GET /jobs/:id/checkpoints`]);
    if (sp.copyMs === undefined) {
      // A detached savepoint: the workers wrote it into the savepoint store, nothing is copied.
      rows.push(['  savepoint recorded (log)', sp.logMs === undefined ? '?' : ms(sp.logMs), `detached: written by the workers straight into the savepoint store; coordinator 'savepoint completed' ms: trigger -> fence closed, blobs checked, metadata stored (that step: ${sp.completeMs === undefined ? '?' : ms(sp.completeMs)}); triggered ${sp.checkpoint ? signed(sp.checkpoint.triggerTimestamp - sp.window.from) : '?'} after the POST`]);
    } else {
      rows.push(['  checkpoint completed (log)', sp.checkpointLogMs === undefined ? '?' : ms(sp.checkpointLogMs), "coordinator 'checkpoint completed' ms: trigger -> checkpoint metadata committed"]);
      rows.push(['  copy into the savepoint store', ms(sp.copyMs), `coordinator 'savepoint completed' copyMs (server-side COPY); its ms (trigger -> copied): ${sp.logMs === undefined ? '?' : ms(sp.logMs)}`]);
    }
    rows.push(['  periodic checkpoints overlapping', String(sp.overlapping.length), sp.overlapping.map((o) => `#${o.id} triggered ${signed(o.triggerTimestamp - sp.window.from)}, ${o.status} after ${ms(o.endToEndDurationMs)}, written ${bytes(o.checkpointedBytes)}`).join('; ')]);
    rows.push(['  CPU', '', r.cpu.savepoints[sp.n - 1] ?? '']);
  }
  const last = r.savepoints[r.savepoints.length - 1];
  if (last) rows.push(['savepoint size (sizeBytes)', bytes(last.sizeBytes), `${int(last.sizeBytes)} B; ${last.operators.filter((o) => o.blobs > 0).map((o) => `${o.uid} ${o.blobs} blobs ${bytes(o.bytes)}`).join(', ')}`]);
  const c = r.compaction;
  if (c) rows.push(['compacted in the background', bytes(c.bytesAfter), `from ${bytes(c.bytesBefore)}: one full base per key group; ${c.ms === undefined ? '?' : ms(c.ms)} of work in the coordinator, compactedAt ${ms(c.afterCompletedMs)} after COMPLETED (a 5 s quiet delay first); the export and the restore below read it`]);
  if (r.savepoints.length > 1) rows.push([`savepoint, median of ${r.savepoints.length}`, ms(median(r.savepoints.map((s) => s.totalMs))), `runs ${r.savepoints.map((s) => ms(s.totalMs)).join(' / ')}; sizes ${[...new Set(r.savepoints.map((s) => s.sizeBytes))].map((n) => int(n)).join(', ')} B`]);
  const ex = r.export;
  if (ex) {
    const sizes = ex.blobs.map((b) => b.bytes.byteLength);
    rows.push(['export file (GET .../export)', bytes(ex.fileBytes), `${int(ex.fileBytes)} B, ${ex.blobs.length} blobs of ${bytes(Math.min(...sizes))}..${bytes(Math.max(...sizes))} (median ${bytes(median(sizes))})`]);
    rows.push(['export time', ms(ex.totalMs), `node:http GET to the last byte (${mbps(ex.fileBytes, ex.totalMs)}); response headers after ${ms(ex.headersMs)} (the export streams: 16 blobs at a time); decode + checksum here ${ms(ex.decodeMs)} (not counted)`]);
    rows.push(['  the same with fetch()', ms(ex.fetchMs), `fetch + arrayBuffer(), as the CLI's RestClient.bytes(): headers after ${ms(ex.fetchHeadersMs)}, body ${ms(ex.fetchMs - ex.fetchHeadersMs)} (informational)`]);
    rows.push(['  CPU', '', r.cpu.export ?? '']);
  }
  const rs = r.restore;
  if (rs) {
    const keyed = rs.restores.filter((x) => x.bytes >= 1000);
    const maxMs = rs.restores.length > 0 ? Math.max(...rs.restores.map((x) => x.ms)) : 0;
    rows.push(['restore, POST /jobs -> RUNNING + state decoded', ms(rs.done), `job ${rs.jobId}, restoredFrom checkpoint ${String(rs.restoredFrom)}`]);
    rows.push(['  POST /jobs answered', at(rs.submitted), 'validation, compatibility check, materialize (server-side COPY into the job), commit']);
    rows.push(['  job RUNNING', at(rs.running), 'polled every 20 ms']);
    rows.push(["  last 'state restored' log line", at(rs.lastRestoreLog), 'pino time of the line']);
    rows.push(['  every subtask RUNNING', at(rs.allRunning), 'polled every 20 ms (a task reports RUNNING after its restore)']);
    rows.push(["  'state restored' ms, max over subtasks", ms(maxMs), keyed.map((x) => `${x.task}#${x.subtask} on ${x.worker}: ${ms(x.ms)} (read ${ms(x.readMs)}, decode ${ms(x.applyMs)}) for ${x.blobs} blobs ${bytes(x.bytes)} (done ${at(x.at)})`).join('; ')]);
    rows.push(['  restored job counts records', at(rs.processing), 'count recordsIn > 0 in REST (metrics about once a second); not part of the figure']);
    rows.push(["  last 'state decoded' log line", at(rs.decoded), 'every key group the restore left undecoded is decoded (while the job runs): the end of the figure']);
    rows.push(['  CPU', '', r.cpu.restore ?? '']);
  }
  if (r.limit) {
    const w = r.limit.runs.map((x) => x.writeMs);
    const g = r.limit.runs.map((x) => x.readMs);
    rows.push([`limit: pipelined SET, median of ${r.limit.runs.length}`, ms(median(w)), `${r.limit.blobs} blobs, ${bytes(r.limit.bytes)} in one pipeline on one connection (${mbps(r.limit.bytes, median(w))}), after ${r.limit.warmups} untimed runs; runs ${w.map((x) => ms(x)).join(' / ')}`]);
    rows.push([`limit: pipelined GET, median of ${r.limit.runs.length}`, ms(median(g)), `(${mbps(r.limit.bytes, median(g))}); runs ${g.map((x) => ms(x)).join(' / ')}`]);
    rows.push(['  CPU', '', r.cpu.limit ?? '']);
  }
  if (r.compactLimit) {
    const w = r.compactLimit.runs.map((x) => x.writeMs);
    const g = r.compactLimit.runs.map((x) => x.readMs);
    rows.push([`limit, one base per key group: SET`, ms(median(w)), `the same state folded (format-1 size): ${bytes(r.compactLimit.bytes)} (${mbps(r.compactLimit.bytes, median(w))}); runs ${w.map((x) => ms(x)).join(' / ')}`]);
    rows.push([`limit, one base per key group: GET`, ms(median(g)), `(${mbps(r.compactLimit.bytes, median(g))}); runs ${g.map((x) => ms(x)).join(' / ')}`]);
  }
  if (r.rawIntake && r.rawIntake.length > 0 && r.compactLimit) {
    const w = r.rawIntake;
    rows.push([`  Redis's raw intake of the same SETs`, ms(median(w)), `information, not in the ratio: pre-encoded, one write to a plain socket, timed to the last +OK (${mbps(r.compactLimit.bytes, median(w))}); runs ${w.map((x) => ms(x)).join(' / ')}`]);
  }
  if (r.loadedLimit) {
    const w = r.loadedLimit.runs.map((x) => x.writeMs);
    rows.push([`  the same SET while the job runs`, ms(median(w)), `information, not in the ratio: measured before the first job was canceled, at its ${RATE > 0 ? `${int(RATE)} records/s` : 'full speed'} (${mbps(r.loadedLimit.bytes, median(w))}); runs ${w.map((x) => ms(x)).join(' / ')}`]);
  }
  const pings = (f: ProbeFigures) => `${int(f.pings)} PINGs: p50 ${ms(f.p50Ms)}, p99 ${ms(f.p99Ms)}, ${f.over10Ms} over 10 ms`;
  if (r.probe.steady) rows.push(['Redis stall, job alone (2 s)', ms(r.probe.steady.maxMs), `the longest PING of another client (one after the other, 5 ms apart); ${pings(r.probe.steady)}`]);
  if (r.probe.savepoints) rows.push(['Redis stall, savepoints to compaction', ms(r.probe.savepoints.maxMs), `the same from the first POST to the end of the compaction (copies in, disposals, periodic checkpoints, compaction); ${pings(r.probe.savepoints)}`]);
  for (const d of r.disposals) rows.push([`dispose ${d.id}`, ms(d.ms), `DELETE -> COMPLETED; then GET -> HTTP ${d.getStatus}, ${d.keysLeft} keys left under its prefix`]);
  if (r.indexLeft !== undefined) rows.push(['savepoint index entries left', String(r.indexLeft), '']);
  for (const line of pad(rows)) log(line);
  if (r.cpu.steady) log(`CPU of the job running before the first savepoint (2 s): ${r.cpu.steady} (% of one core; machine = busy share of both cores)`);
}

await bench.run(main);

/**
 * The savepoint's state with each key group folded into one full base (mergeChain of its parts):
 * what a format-1 savepoint of the same state holds, and the folded limit's bytes.
 */
function foldedBlobs(metadata: SavepointMetadata, blobs: readonly { name: string; bytes: Uint8Array }[]): { name: string; bytes: Uint8Array }[] {
  const byName = new Map(blobs.map((b) => [b.name, b.bytes]));
  return Object.values(metadata.operators).flatMap((op) => [
    ...Object.entries(op.keyGroups).map(([g, name]) => ({ name, bytes: mergeChain(savepointKeyGroupParts(op, Number(g)).map((n) => byName.get(n)!)) })),
    ...Object.values(op.operatorState).map((name) => ({ name, bytes: byName.get(name)! })),
  ]);
}
