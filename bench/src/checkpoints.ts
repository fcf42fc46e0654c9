/**
 * bench:checkpoints — in one run:
 *
 *  1. Overhead: wordcount p=2 on `weir cluster up --workers 2`, with checkpoints every
 *     `--interval` ms vs none, alternated; ratio of the median records/s (checkpoints-overhead.ts).
 *  2. Incremental cost: a HeapKeyedState of `--keys` keys snapshotted in this process to the real
 *     Redis, full then deltas after 1% updates, and a checked restore (checkpoints-incremental.ts).
 *  3. Recovery time: bench/jobs/keyed-state.ts with `--keys` keys of state, a worker SIGKILLed
 *     and restarted, timed until the job runs and processes again (checkpoints-recovery.ts).
 *
 * The output ends with `overhead ratio: X` and `incremental bytes ratio: Y`.
 *
 *   npm run bench:checkpoints -- [--words N] [--runs R] [--warmup K] [--interval MS] [--keys N]
 *       [--updates N] [--deltas D] [--rate N] [--kills K] [--only overhead,incremental,recovery]
 *   (WEIR_NATS_URL, WEIR_REDIS_URL)
 */
import os from 'node:os';
import { benchFlags, BenchMain } from './bench-main.js';
import { bytes, ms } from './checkpoints-common.js';
import { measureIncremental, type IncrementalResult } from './checkpoints-incremental.js';
import { checkpointSummary, measureOverhead, type OverheadResult } from './checkpoints-overhead.js';
import { describeRecovery, measureRecovery, type RecoveryResult } from './checkpoints-recovery.js';
import { int, median } from './util.js';

const USAGE =
  'usage: npm run bench:checkpoints -- [--words N] [--runs R] [--warmup K] [--interval MS] [--keys N] [--updates N] [--deltas D] [--rate N] [--kills K] [--only overhead,incremental,recovery]';
const PARTS = ['overhead', 'incremental', 'recovery'] as const;
type Part = (typeof PARTS)[number];

const flags = benchFlags(USAGE, ['words', 'runs', 'warmup', 'interval', 'keys', 'updates', 'deltas', 'rate', 'kills', 'only']);
const WORDS = flags.positive('words', 20_000_000);
const RUNS = flags.positive('runs', 3);
const WARMUP = flags.positive('warmup', 1, 0);
const INTERVAL = flags.positive('interval', 1000, 10);
const KEYS = flags.positive('keys', 1_000_000);
const UPDATES = flags.positive('updates', Math.max(1, Math.round(KEYS / 100)));
const DELTAS = flags.positive('deltas', 5);
const RATE = flags.positive('rate', 200_000, 0);
const KILLS = flags.positive('kills', 3);
const ONLY = new Set<Part>(
  (flags.values.only ?? PARTS.join(',')).split(',').map((p) => {
    if (!(PARTS as readonly string[]).includes(p)) flags.fail(`--only takes a list of ${PARTS.join(', ')}; got '${p}'`);
    return p as Part;
  }),
);
const NATS_URL = process.env.WEIR_NATS_URL || 'nats://127.0.0.1:4222';
const REDIS_URL = process.env.WEIR_REDIS_URL || 'redis://127.0.0.1:6379';
// The clusters this bench starts inherit the environment: their snapshot store is this Redis.
process.env.WEIR_REDIS_URL = REDIS_URL;

const log = (line = '') => console.log(line);
const bench = new BenchMain(60_000);
const { resources } = bench;
const failures: string[] = [];

/** Run one part; a failure is reported and the other parts still run. */
async function part<T>(name: Part, fn: () => Promise<T>): Promise<T | undefined> {
  if (!ONLY.has(name) || bench.interrupted) return undefined;
  log('');
  const started = Date.now();
  try {
    const r = await fn();
    log(`  (${name}: ${((Date.now() - started) / 1000).toFixed(0)} s)`);
    return r;
  } catch (e) {
    if (bench.interrupted) return undefined;
    console.error(`bench: ${name} failed: ${(e as Error).stack ?? String(e)}`);
    failures.push(`${name}: ${(e as Error).message.split('\n')[0]}`);
    await resources.releaseAll(60_000);
    return undefined;
  }
}

async function main(): Promise<void> {
  log(`bench:checkpoints — ${new Date().toISOString()}, ${os.availableParallelism()} cores, Node ${process.version}; NATS ${NATS_URL}, Redis ${REDIS_URL}`);

  const overhead: OverheadResult | undefined = await part('overhead', () =>
    measureOverhead({ natsUrl: NATS_URL, redisUrl: REDIS_URL, words: WORDS, runs: RUNS, warmup: WARMUP, intervalMs: INTERVAL, log }, resources),
  );
  const incremental: IncrementalResult | undefined = await part('incremental', () =>
    measureIncremental({ redisUrl: REDIS_URL, keys: KEYS, updates: UPDATES, deltas: DELTAS, maxParallelism: 128, log }, resources),
  );
  const recovery: RecoveryResult | undefined = await part('recovery', () =>
    measureRecovery({ natsUrl: NATS_URL, redisUrl: REDIS_URL, keys: KEYS, rate: RATE, kills: KILLS, heartbeatTimeoutMs: 3000, log }, resources),
  );

  if (bench.interrupted) return;
  log('');
  log('=== results ===');
  if (overhead) {
    const rates = (xs: { rate: number }[]) => xs.map((r) => int(r.rate)).join(', ');
    log(`overhead (wordcount p=2, ${int(WORDS)} words, ${RUNS} runs each, ABBA order after ${WARMUP} warm-up pair(s)):`);
    log(`  checkpoints off:            median ${int(overhead.medianOff)} records/s (runs: ${rates(overhead.off)})`);
    log(`  checkpoints every ${INTERVAL} ms: median ${int(overhead.medianOn)} records/s (runs: ${rates(overhead.on)})`);
    for (const line of checkpointSummary(overhead.on)) log(`  ${line}`);
  }
  if (incremental) {
    const { full, deltas, restore } = incremental;
    log(`incremental (${int(KEYS)} keys in-process, ${int(UPDATES)} keys updated before each delta checkpoint, Redis):`);
    log(`  full snapshot: ${bytes(full.writtenBytes)} (${full.blobs} blobs), sync ${ms(full.syncMs)}, async ${ms(full.asyncMs)}`);
    log(`  deltas: ${deltas.map((d) => `#${d.checkpointId} ${bytes(d.writtenBytes)} / sync ${ms(d.syncMs)} / async ${ms(d.asyncMs)}`).join('; ')}`);
    log(`  median delta ${bytes(median(deltas.map((d) => d.writtenBytes)))} = ${(100 * incremental.ratio).toFixed(2)}% of the full snapshot; median sync ${ms(median(deltas.map((d) => d.syncMs)))}, async ${ms(median(deltas.map((d) => d.asyncMs)))}`);
    log(`  restore of the last checkpoint: ${ms(restore.readMs + restore.applyMs)} (read ${restore.blobs} blobs / ${bytes(restore.bytes)} ${ms(restore.readMs)}, apply ${ms(restore.applyMs)}), ${int(restore.keys)} keys, equal to the live state`);
  }
  if (recovery) {
    log(`recovery (bench/jobs/keyed-state.ts p=2, ${int(KEYS)} keys, ${RATE > 0 ? `${int(RATE)} records/s` : 'full speed'}, SIGKILL of w1 + immediate restart; T0 = the kill):`);
    for (const r of recovery.recoveries) log(`  kill ${r.kill}: ${describeRecovery(r)}`);
    const pick = (f: (r: RecoveryResult['recoveries'][number]) => number | undefined) => recovery.recoveries.map(f).map((t) => (t === undefined ? '-' : int(t))).join(' / ');
    log(`  T0 -> RUNNING again (ms): ${pick((r) => r.running)}; T0 -> state restored (ms): ${pick((r) => r.restored)}; T0 -> first acked frame (ms): ${pick((r) => r.firstAck)}; T0 -> recordsIn > 0 in REST (ms): ${pick((r) => r.processing)}`);
    log(`  restores counted by the coordinator: ${recovery.restoredCount}; exceptions: ${recovery.exceptions.join(' | ')}`);
  }
  if (failures.length > 0) log(`FAILED: ${failures.join(' | ')}`);
  log('');
  log(`overhead ratio: ${overhead ? overhead.ratio.toFixed(3) : 'n/a'}`);
  log(`incremental bytes ratio: ${incremental ? incremental.ratio.toFixed(3) : 'n/a'}`);
}

await bench.run(async () => {
  await main();
  return failures.length === 0;
});
