/**
 * bench:throughput — in one run:
 *
 *  1. Weir: records/s of examples/wordcount at parallelism 2 over JetStream on a real
 *     multi-process cluster (`weir cluster up --workers 2`), by the job's own timing
 *     (GET /jobs/:id: duration from RUNNING to the end, records into the count operator).
 *  2. The raw limit: a bare JetStream publish + consume of the same words in the same frames
 *     (msgpackr `[0, seq, records]`, 512 records a frame), pipelined, and with one publish in
 *     flight (as each Weir channel does).
 *  3. A results table, ending with `throughput ratio: X` (Weir best / raw pipelined).
 *
 * The measured runs of 1 and 2 alternate (raw, Weir, raw, Weir, ...), after warm-ups of both.
 *
 *   npm run bench:throughput -- [--words N] [--runs R] [--warmup K] [--window W] [--fetch-ahead F] [--nats URL]
 *   (or BENCH_WORDS, BENCH_RUNS, BENCH_WARMUP, BENCH_WINDOW, BENCH_FETCH_AHEAD, WEIR_NATS_URL)
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DEFAULT_TASK_OPTIONS, encodeRecords } from '@weir/runtime';
import { defaultGeneratedLine, seededRandom } from '@weir/sdk/connectors';
import { BenchCluster, type WordcountRun } from './cluster.js';
import { CpuSampler, pidsByName, type CpuWindow } from './procfs.js';
import { liveRawStreams, rawPublishConsume, type RawOptions, type RawResult } from './raw.js';
import { int, median, withTimeout } from './util.js';

const USAGE = 'usage: npm run bench:throughput -- [--words N] [--runs R] [--warmup K] [--window W] [--fetch-ahead F] [--nats URL]';

function usage(message: string): never {
  console.error(`bench: ${message}\n${USAGE}`);
  process.exit(2);
}

const flags = (() => {
  try {
    return parseArgs({
      options: {
        words: { type: 'string' },
        runs: { type: 'string' },
        warmup: { type: 'string' },
        window: { type: 'string' },
        'fetch-ahead': { type: 'string' },
        nats: { type: 'string' },
      },
    }).values;
  } catch (e) {
    return usage((e as Error).message);
  }
})();

function positive(name: string, raw: string | undefined, fallback: number, min = 1): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < min) usage(`${name} must be an integer >= ${min}, got '${raw}'`);
  return n;
}

const WORDS = positive('--words', flags.words ?? process.env.BENCH_WORDS, 4_000_000);
const RUNS = positive('--runs', flags.runs ?? process.env.BENCH_RUNS, 3);
/** Uncounted runs before the measured ones, for Weir and for the raw test alike (JIT, heaps, connections). */
const WARMUP = positive('--warmup', flags.warmup ?? process.env.BENCH_WARMUP, 2, 0);
const WINDOW = positive('--window', flags.window ?? process.env.BENCH_WINDOW, 256);
const FETCH_AHEAD = positive('--fetch-ahead', flags['fetch-ahead'] ?? process.env.BENCH_FETCH_AHEAD, 256);
const NATS_URL = flags.nats ?? process.env.WEIR_NATS_URL ?? 'nats://127.0.0.1:4222';
const PARALLELISM = 2;
const BATCH = DEFAULT_TASK_OPTIONS.batchSize; // 512 records a frame
/** Generous bounds: about 20 s + 50 µs a word per Weir run, 20 s + 25 µs a word per raw test. */
const RUN_TIMEOUT_MS = 20_000 + WORDS / 20;
const RAW_TIMEOUT_MS = 20_000 + WORDS / 40;

const log = (line = '') => console.log(line);
const rate = (records: number, ms: number) => records / (ms / 1000);

/** The words wordcount counts, in order: line i = defaultGeneratedLine(i, seededRandom(1, i)), split on spaces. */
function generateWords(words: number): string[] {
  const lines = Math.ceil(words / 10); // as the job: generator({ count: ceil(words / 10) })
  const out: string[] = [];
  for (let i = 0; i < lines; i++) for (const w of defaultGeneratedLine(i, seededRandom(1, i)).split(' ')) out.push(w);
  return out;
}

function encodeFrames(words: readonly string[]): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let i = 0, seq = 0; i < words.length; i += BATCH) frames.push(encodeRecords(seq++, words.slice(i, i + BATCH)));
  return frames;
}

/**
 * Weir's frames/s on its data stream (sampled), and the records of a frame that implies if half the
 * records cross it: at p=2, one channel of each sender stays in its slot (a local channel).
 */
function frameRate(run: WordcountRun, recordsPerSecond: number): string {
  const f = run.framesPerSecond;
  return f ? `~${int(f)} frames/s through JetStream, sampled (~${int(recordsPerSecond / 2 / f)} records a frame)` : `>= ${int(run.framesSeen)} frames`;
}

interface RawRun extends RawResult {
  readonly cpu: CpuWindow | undefined;
}

const self = new Map([['bench', process.pid]]);
const natsPids = pidsByName('nats-server');
const natsProcesses = new Map(natsPids.map((pid) => [natsPids.length > 1 ? `nats-server ${pid}` : 'nats-server', pid]));

async function raw(what: string, frames: Uint8Array[], o: Pick<RawOptions, 'senders' | 'receivers' | 'inFlight' | 'publisher'> & { fetchAhead?: number }, count = RUNS, first = 0): Promise<RawRun[]> {
  const runs: RawRun[] = [];
  for (let i = first; i < first + count; i++) {
    const sampler = new CpuSampler(() => new Map([...self, ...natsProcesses]), 100);
    try {
      const r = await rawPublishConsume({ natsUrl: NATS_URL, frames, timeoutMs: RAW_TIMEOUT_MS, ...o, fetchAhead: o.fetchAhead ?? FETCH_AHEAD });
      sampler.stop();
      runs.push({ ...r, cpu: sampler.window(r.startedAt, r.endedAt) });
      log(`  ${what} #${i + 1}: ${int(r.elapsedMs)} ms = ${int(rate(WORDS_SENT, r.elapsedMs))} records/s, ${int(rate(r.frames, r.elapsedMs))} frames/s`);
    } finally {
      sampler.stop();
    }
  }
  return runs;
}

let WORDS_SENT = 0;
let cluster: BenchCluster | undefined;
let monitor: NatsConnection | undefined;

let stopping: Promise<void> | undefined;
let interrupted = false;

/** Stop the cluster (if up), delete its streams, close NATS. Idempotent; bounded by the callers. */
function shutdown(): Promise<void> {
  return (stopping ??= (async () => {
    const c = cluster;
    if (c) {
      const left = await c.stop();
      if (left.length > 0) console.error(`bench: cluster processes still present after SIGKILL: ${left.join(', ')}`);
      else cluster = undefined; // all gone: nothing left for the exit hook to kill
      if (monitor) await withTimeout(c.cleanupNats(monitor), 15_000, 'deleting the cluster streams').catch((e) => console.error(`bench: ${String(e)}`));
    }
    if (monitor && liveRawStreams.size > 0) {
      const jsm = await jetstreamManager(monitor);
      for (const name of liveRawStreams) await withTimeout(jsm.streams.delete(name), 10_000, `deleting stream ${name}`).catch(() => undefined);
    }
    if (monitor) await withTimeout(monitor.close(), 5000, 'closing NATS').catch(() => undefined);
    monitor = undefined;
  })());
}

process.on('exit', () => cluster?.killNow());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`bench: ${signal}, stopping the cluster`);
    void withTimeout(shutdown(), 30_000, 'shutdown')
      .catch(() => cluster?.killNow())
      .finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  log(`bench:throughput — wordcount p=${PARALLELISM} on a 'weir cluster up --workers 2' vs bare JetStream, NATS ${NATS_URL}`);
  log(`  ${int(WORDS)} words, ${RUNS} measured runs each after ${WARMUP} uncounted warm-up runs, frames of ${BATCH} records; raw: window ${WINDOW} publishes in flight, fetch-ahead ${FETCH_AHEAD}`);

  // Not timed: the words and their frames.
  const frames = (() => {
    const words = generateWords(WORDS);
    WORDS_SENT = words.length;
    return encodeFrames(words);
  })();
  const bytes = frames.reduce((n, f) => n + f.length, 0);
  log(`  ${int(WORDS_SENT)} words -> ${int(frames.length)} frames, ${(bytes / 1e6).toFixed(1)} MB (${int(bytes / frames.length)} B a frame)`);
  monitor = await withTimeout(connect({ servers: NATS_URL }), 10_000, `connecting to ${NATS_URL}`);
  log(`  nats-server ${monitor.info?.version ?? '?'}${natsPids.length ? ` (pid ${natsPids.join(', ')})` : ' (not on this machine: its CPU is not sampled)'}, ${os.availableParallelism()} cores`);

  // The cluster first: Weir's runs and the raw limit's runs then alternate, so that both sides of
  // the ratio see the same machine (its speed drifts by up to 2x over a minute here). The idle
  // cluster only sends heartbeats meanwhile.
  cluster = new BenchCluster(NATS_URL, 2);
  await cluster.start();
  const c = cluster;
  log('');
  log(`weir cluster ${c.clusterId} at ${c.restUrl}: coordinator pid ${c.coordinatorPid}, workers ${c.workerPids.join(', ')}`);
  const clusterProcesses = () => {
    const m = new Map<string, number>();
    c.workerPids.forEach((pid, i) => m.set(`weir worker ${i + 1}`, pid));
    if (c.coordinatorPid !== undefined) m.set('weir coordinator', c.coordinatorPid);
    if (c.clientPid !== undefined) m.set('weir run (client)', c.clientPid);
    for (const [k, v] of natsProcesses) m.set(k, v);
    return m;
  };

  // Warm-up, not reported: JIT of the client code paths, heaps, on both sides.
  for (let i = 0; i < WARMUP; i++) {
    const r = await rawPublishConsume({ natsUrl: NATS_URL, frames, senders: 1, receivers: 1, inFlight: WINDOW, fetchAhead: FETCH_AHEAD, timeoutMs: RAW_TIMEOUT_MS });
    log(`  raw warm-up #${i + 1} (not counted): ${int(r.elapsedMs)} ms = ${int(rate(WORDS_SENT, r.elapsedMs))} records/s`);
    const l = await rawPublishConsume({ natsUrl: NATS_URL, frames, senders: 1, receivers: 1, inFlight: WINDOW, fetchAhead: FETCH_AHEAD, timeoutMs: RAW_TIMEOUT_MS, publisher: 'light' });
    log(`  raw light-publish warm-up #${i + 1} (not counted): ${int(l.elapsedMs)} ms = ${int(rate(WORDS_SENT, l.elapsedMs))} records/s`);
    const v = (await c.runWordcount(monitor, WORDS, PARALLELISM, RUN_TIMEOUT_MS)).view;
    const counted = v.vertices.find((x) => x.uid === 'count')?.recordsIn ?? 0;
    log(`  weir warm-up #${i + 1} (not counted): job ${v.id} ${int(counted)} words in ${int(v.duration)} ms = ${int(rate(counted, v.duration))} records/s`);
  }

  // 1. Alternating: the raw limit (bare JetStream, pipelined, with the client's js.publish and with
  // Weir's own lighter publish path), then Weir on the real cluster.
  const pipelined: RawRun[] = [];
  const pipelinedLight: RawRun[] = [];
  const weirRuns: { run: WordcountRun; rate: number; cpu: CpuWindow | undefined }[] = [];
  for (let i = 0; i < RUNS; i++) {
    pipelined.push(...(await raw(`raw pipelined (${WINDOW} in flight)`, frames, { senders: 1, receivers: 1, inFlight: WINDOW }, 1, i)));
    pipelinedLight.push(...(await raw(`raw pipelined, light publish (${WINDOW} in flight)`, frames, { senders: 1, receivers: 1, inFlight: WINDOW, publisher: 'light' }, 1, i)));
    const sampler = new CpuSampler(clusterProcesses, 100);
    let run: WordcountRun;
    try {
      run = await c.runWordcount(monitor, WORDS, PARALLELISM, RUN_TIMEOUT_MS);
    } finally {
      sampler.stop();
    }
    const v = run.view;
    const counted = v.vertices.find((x) => x.uid === 'count')?.recordsIn ?? 0;
    if (counted !== WORDS_SENT) log(`  warning: the count operator saw ${int(counted)} words, the raw test sends ${int(WORDS_SENT)}`);
    const r = rate(counted, v.duration);
    const cpu = v.startTime && v.endTime ? sampler.window(v.startTime, v.endTime) : undefined;
    weirRuns.push({ run, rate: r, cpu });
    const vertices = v.vertices.map((x) => `${x.uid} ${int(x.recordsIn)}/${int(x.recordsOut)}`).join(', ');
    log(`  weir run #${i + 1}: job ${v.id} ${int(counted)} words in ${int(v.duration)} ms = ${int(r)} records/s; ${frameRate(run, r)}, peak backlog ${int(run.peakBacklog)} frames; in/out: ${vertices}`);
  }

  // 2. References, not in the ratio: the raw test with Weir's old channel shapes.
  const oneInFlight = await raw('raw one in flight', frames, { senders: 1, receivers: 1, inFlight: 1 });
  // Weir's layout at p=2: 2 senders x 2 receivers, one publish in flight a channel, fetch-ahead 32.
  const weirShaped = await raw('raw 4 channels x 1 in flight', frames, { senders: PARALLELISM, receivers: PARALLELISM, inFlight: 1, fetchAhead: 32 });

  // Stop the cluster (SIGTERM to `cluster up`, then by pid) and delete its streams.
  await withTimeout(shutdown(), 60_000, 'stopping the cluster');
  log(`weir cluster ${c.clusterId} stopped`);

  // 3. Results.
  const best = <T extends { elapsedMs: number }>(xs: T[]) => xs.reduce((a, b) => (b.elapsedMs < a.elapsedMs ? b : a));
  const medianMs = (xs: RawResult[]) => median(xs.map((x) => x.elapsedMs));
  const weirBest = weirRuns.reduce((a, b) => (b.rate > a.rate ? b : a));
  const weirMedian = median(weirRuns.map((r) => r.rate));
  const jsBest = best(pipelined);
  const lightBest = best(pipelinedLight);
  // The limit is the faster of the two ways to publish: the broker's, not one client path's.
  const rawBest = lightBest.elapsedMs < jsBest.elapsedMs ? lightBest : jsBest;
  const rawRate = rate(WORDS_SENT, rawBest.elapsedMs);
  const mb = (r: RawResult) => `${((r.bytes / 1e6) / (r.elapsedMs / 1000)).toFixed(1)} MB/s`;

  const rows: [string, string, string][] = [
    [`Weir wordcount p=${PARALLELISM}, JetStream, best of ${RUNS}`, int(weirBest.rate), `${int(weirBest.run.view.duration)} ms, ${frameRate(weirBest.run, weirBest.rate)}`],
    [`Weir wordcount p=${PARALLELISM}, JetStream, median`, int(weirMedian), `runs: ${weirRuns.map((r) => int(r.rate)).join(', ')}`],
    [`raw JetStream, pipelined (${WINDOW} in flight), js.publish`, int(rate(WORDS_SENT, jsBest.elapsedMs)), `${int(rate(jsBest.frames, jsBest.elapsedMs))} frames/s, ${mb(jsBest)}; median ${int(rate(WORDS_SENT, medianMs(pipelined)))} rec/s`],
    [`raw JetStream, pipelined (${WINDOW} in flight), light publish`, int(rate(WORDS_SENT, lightBest.elapsedMs)), `${int(rate(lightBest.frames, lightBest.elapsedMs))} frames/s, ${mb(lightBest)}; median ${int(rate(WORDS_SENT, medianMs(pipelinedLight)))} rec/s (Weir's PubAckPublisher, batches of 32)`],
    ['raw JetStream, one publish in flight', int(rate(WORDS_SENT, best(oneInFlight).elapsedMs)), `${int(rate(best(oneInFlight).frames, best(oneInFlight).elapsedMs))} frames/s, ${mb(best(oneInFlight))}; median ${int(rate(WORDS_SENT, medianMs(oneInFlight)))} rec/s`],
    [`raw JetStream, ${PARALLELISM * PARALLELISM} channels x 1 in flight`, int(rate(WORDS_SENT, best(weirShaped).elapsedMs)), `${int(rate(best(weirShaped).frames, best(weirShaped).elapsedMs))} frames/s, ${mb(best(weirShaped))} (Weir's p=2 channel layout, fetch-ahead 32)`],
    ['NATS message + Redis write per event', '~15,000', 'the hand-written baseline (reference figure, not measured)'],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length), 'records/s'.length);
  log('');
  log(`${int(WORDS_SENT)} words, ${int(frames.length)} frames of <= ${BATCH} records, ${(bytes / 1e6).toFixed(1)} MB encoded`);
  log(`${'what'.padEnd(w0)}  ${'records/s'.padStart(w1)}  notes`);
  log(`${'-'.repeat(w0)}  ${'-'.repeat(w1)}  -----`);
  for (const [a, b, n] of rows) log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${n}`);

  log('');
  log('CPU during the best run of each, from /proc every 100 ms (% of one core; the machine has');
  log(`${os.availableParallelism()} cores = ${100 * os.availableParallelism()}%; "machine" is busy time of all cores):`);
  const cpuLine = (what: string, cpu: CpuWindow | undefined) => {
    if (!cpu) return log(`  ${what.padEnd(w0)}  no samples (not Linux, or too short)`);
    const procs = [...cpu.perProcess].sort((a, b) => b[1] - a[1]).map(([label, p]) => `${label} ${p.toFixed(0)}%`);
    log(`  ${what.padEnd(w0)}  ${procs.join(', ')}; machine ${cpu.machineBusy.toFixed(0)}%`);
  };
  cpuLine('Weir wordcount (best)', weirBest.cpu);
  cpuLine(`raw pipelined (${WINDOW} in flight), js.publish`, jsBest.cpu);
  cpuLine(`raw pipelined (${WINDOW} in flight), light publish`, lightBest.cpu);
  cpuLine('raw one in flight', best(oneInFlight).cpu);
  cpuLine(`raw ${PARALLELISM * PARALLELISM} channels x 1 in flight`, best(weirShaped).cpu);

  log('');
  log(`(ratio against js.publish ${(weirBest.rate / rate(WORDS_SENT, jsBest.elapsedMs)).toFixed(3)}, against the light publish ${(weirBest.rate / rate(WORDS_SENT, lightBest.elapsedMs)).toFixed(3)}; the line below uses the faster limit)`);
  log(`throughput ratio: ${(weirBest.rate / rawRate).toFixed(3)}`);
}

try {
  await main();
} catch (e) {
  if (!interrupted) console.error(`bench: failed: ${(e as Error).stack ?? String(e)}`);
  await withTimeout(shutdown(), 30_000, 'shutdown').catch(() => cluster?.killNow());
  process.exitCode = 1;
}
