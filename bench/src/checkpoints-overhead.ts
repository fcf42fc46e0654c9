/**
 * bench:checkpoints, part 1 — the throughput cost of checkpointing: examples/wordcount at p=2 on
 * a real `weir cluster up --workers 2` (snapshot store: Redis), generator source, with
 * `--checkpoint-interval <ms>` versus `--checkpoint-interval 0`, alternated in ABBA order.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { BenchCluster, WORDCOUNT } from './cluster.js';
import { bytes, describeCheckpoint, ms, restGet, unlinkMatching, vertex, weirCli, type CheckpointEntry, type CheckpointStats, type JobDetails, type Resources, type Tracked } from './checkpoints-common.js';
import { int, median, withTimeout } from './util.js';

export interface OverheadOptions {
  readonly natsUrl: string;
  readonly redisUrl: string;
  readonly words: number;
  /** Measured runs of each setting. */
  readonly runs: number;
  /** Uncounted runs of each setting first. */
  readonly warmup: number;
  readonly intervalMs: number;
  readonly log: (line?: string) => void;
}

export interface OverheadRun {
  readonly checkpoints: boolean;
  readonly jobId: string;
  readonly records: number;
  readonly durationMs: number;
  readonly rate: number;
  readonly completed: number;
  readonly failed: number;
  readonly latest: CheckpointEntry | null;
  /** Completed checkpoints of the run, oldest first. */
  readonly history: CheckpointEntry[];
}

export interface OverheadResult {
  readonly off: OverheadRun[];
  readonly on: OverheadRun[];
  readonly medianOff: number;
  readonly medianOn: number;
  readonly ratio: number;
}

const PARALLELISM = 2;

/** ABBA: off, on, on, off, off, on, ... so that a drift over the runs weighs on both settings alike. */
export const abbaOrder = (runs: number): boolean[] => Array.from({ length: 2 * runs }, (_, i) => (i % 4 === 0 || i % 4 === 3 ? false : true));

export async function measureOverhead(o: OverheadOptions, resources: Resources): Promise<OverheadResult> {
  const { log } = o;
  const cluster = new BenchCluster(o.natsUrl, 2); // its processes get WEIR_REDIS_URL from this process's environment
  let client: Tracked | undefined;
  let nc: NatsConnection | undefined;
  const resource = resources.add({
    what: 'the wordcount cluster',
    stop: async () => {
      client?.signal('SIGKILL');
      const left = await cluster.stop();
      if (left.length > 0) console.error(`bench: cluster processes still present after SIGKILL: ${left.join(', ')}`);
      nc ??= await withTimeout(connect({ servers: o.natsUrl }), 10_000, `connecting to ${o.natsUrl}`);
      await withTimeout(cluster.cleanupNats(nc), 15_000, 'deleting the cluster streams').catch((e) => console.error(`bench: ${String(e)}`));
      await withTimeout(nc.close(), 5000, 'closing NATS').catch(() => undefined);
      const removed = await unlinkMatching(o.redisUrl, `weir:{${cluster.clusterId}:*`);
      log(`  cluster ${cluster.clusterId} stopped; its streams and ${removed} Redis keys left over deleted`);
    },
    killNow: () => {
      client?.signal('SIGKILL');
      cluster.killNow();
    },
  });

  const timeoutMs = 60_000 + o.words / 100; // 60 s + 10 µs a word: far above a normal run
  const run = async (checkpoints: boolean): Promise<OverheadRun> => {
    const interval = checkpoints ? o.intervalMs : 0;
    const args = ['run', WORDCOUNT, '-p', String(PARALLELISM), '--arg', 'source=generator', '--arg', `words=${o.words}`, '--arg', 'output=none', '--checkpoint-interval', String(interval)];
    const env = { ...process.env, WEIR_CLUSTER_ID: cluster.clusterId, WEIR_NATS_URL: o.natsUrl, WEIR_REST_URL: cluster.restUrl, WEIR_LOG_LEVEL: 'warn' };
    const r = await weirCli(args, env, timeoutMs, (p) => (client = p)).finally(() => (client = undefined));
    const jobId = /as job ([0-9a-zA-Z_-]+)/.exec(r.stderr)?.[1];
    if (!jobId) throw new Error(`could not find the submitted job (weir run exited ${r.code})\n${r.stderr}`);
    const view = await restGet<JobDetails>(cluster.restUrl, `/jobs/${jobId}`);
    if (r.code !== 0 || view.state !== 'FINISHED') throw new Error(`wordcount job ${jobId} ended ${view.state} (weir run exited ${r.code}): ${JSON.stringify(view.failure)}\n${r.stderr}`);
    const cps = await restGet<CheckpointStats>(cluster.restUrl, `/jobs/${jobId}/checkpoints`);
    const records = vertex(view, 'count')?.recordsIn ?? 0;
    const history = cps.history.filter((c) => c.status === 'COMPLETED').reverse();
    return { checkpoints, jobId, records, durationMs: view.duration, rate: records / (view.duration / 1000), completed: cps.counts.completed, failed: cps.counts.failed, latest: cps.latest.completed, history };
  };
  const describe = (r: OverheadRun) =>
    `job ${r.jobId} ${int(r.records)} words in ${int(r.durationMs)} ms = ${int(r.rate)} records/s` +
    (r.checkpoints ? `; ${r.completed} checkpoints completed, ${r.failed} failed${r.latest ? `, latest ${describeCheckpoint(r.latest)}` : ''}` : '');

  try {
    await cluster.start();
    log(`overhead: wordcount p=${PARALLELISM}, ${int(o.words)} generated words, --checkpoint-interval ${o.intervalMs} vs 0, on 'weir cluster up --workers 2'`);
    log(`  cluster ${cluster.clusterId} at ${cluster.restUrl}: coordinator pid ${cluster.coordinatorPid}, workers ${cluster.workerPids.join(', ')}; snapshot store ${o.redisUrl}`);
    for (let i = 0; i < o.warmup; i++) {
      for (const checkpoints of [false, true]) log(`  warm-up, checkpoints ${checkpoints ? 'on ' : 'off'} (not counted): ${describe(await run(checkpoints))}`);
    }
    const off: OverheadRun[] = [];
    const on: OverheadRun[] = [];
    for (const checkpoints of abbaOrder(o.runs)) {
      const r = await run(checkpoints);
      (checkpoints ? on : off).push(r);
      log(`  run ${off.length + on.length}, checkpoints ${checkpoints ? 'on ' : 'off'}: ${describe(r)}`);
      if (r.records !== o.words && r.records > 0 && Math.abs(r.records - o.words) > o.words * 0.02) log(`    note: the count operator saw ${int(r.records)} words, ${int(o.words)} were asked for`);
    }
    const medianOff = median(off.map((r) => r.rate));
    const medianOn = median(on.map((r) => r.rate));
    return { off, on, medianOff, medianOn, ratio: medianOn / medianOff };
  } finally {
    await resources.release(resource, 90_000);
  }
}

/** The per-checkpoint figures of the with-checkpoints runs, summarized. */
export function checkpointSummary(on: readonly OverheadRun[]): string[] {
  const all = on.flatMap((r) => r.history);
  if (all.length === 0) return ['no checkpoint completed in the runs with checkpoints'];
  const m = (pick: (c: CheckpointEntry) => number) => median(all.map(pick));
  const max = (pick: (c: CheckpointEntry) => number) => Math.max(...all.map(pick));
  return [
    `${all.length} completed checkpoints over ${on.length} runs (${on.map((r) => r.completed).join(' / ')}; failed: ${on.map((r) => r.failed).join(' / ')}); per checkpoint, median (max):`,
    `end to end ${ms(m((c) => c.endToEndDurationMs))} (${ms(max((c) => c.endToEndDurationMs))}), sync ${ms(m((c) => c.syncMs))} (${ms(max((c) => c.syncMs))}), async ${ms(m((c) => c.asyncMs))} (${ms(max((c) => c.asyncMs))}), alignment ${ms(m((c) => c.alignmentMs))} (${ms(max((c) => c.alignmentMs))})`,
    `state ${bytes(m((c) => c.stateBytes))} (${bytes(max((c) => c.stateBytes))}), written ${bytes(m((c) => c.checkpointedBytes))} (${bytes(max((c) => c.checkpointedBytes))})`,
  ];
}
