/**
 * bench:latency — JetStream → JetStream end-to-end latency and throughput of bench/jobs/latency-job.ts
 * (parse → keyBy(seq % 1000).reduce → jetstreamSink) at p=2 with checkpoints every 1000 ms, sink
 * delivery at-least-once vs exactly-once, on a coordinator + 2 single-slot workers started as processes.
 *
 * Per mode (at-least-once first), with fresh input/output streams each time:
 *  - saturation: `--saturation` messages are stored in the input stream first, then the job starts;
 *    records/s = N / (job RUNNING → all N messages in the output stream); also reported, not used
 *    in the ratio: the rate between 10 % and 90 % of the outputs (without the start and the end);
 *  - rate: the job runs, this process publishes `${seq}:${Date.now()}` with core NATS at `--rate`
 *    msgs/s in batches every `--batch-ms` ms for `--warmup` + `--seconds` s, and reads the output
 *    stream with an ordered consumer; latency = receive time − send time for the records sent after
 *    the warm-up.
 *
 * Ends with `exactly-once throughput ratio: X` (exactly-once saturation records/s ÷ at-least-once).
 *
 *   npm run bench:latency -- [--rate N] [--seconds S] [--warmup S] [--saturation N] [--rounds R] [--batch-ms MS]
 *   (WEIR_NATS_URL, WEIR_REDIS_URL)
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { benchFlags, BenchMain } from './bench-main.js';
import { restGet, restPost, weirCli, type CheckpointStats, type JobDetails } from './checkpoints-common.js';
import { RoleProcesses } from './checkpoints-processes.js';
import { int, median, sleep, waitFor, withTimeout } from './util.js';

const JOB = fileURLToPath(new URL('../jobs/latency-job.ts', import.meta.url));
const INTERVAL_MS = 1000;
const TARGET_SLACK_MS = 250;
const PARALLELISM = 2;
const MODES = ['at-least-once', 'exactly-once'] as const;
type Mode = (typeof MODES)[number];

const USAGE = 'usage: npm run bench:latency -- [--rate N] [--seconds S] [--warmup S] [--saturation N] [--rounds R] [--batch-ms MS]';
const flags = benchFlags(USAGE, ['rate', 'seconds', 'warmup', 'saturation', 'rounds', 'batch-ms']);
const RATE = flags.positive('rate', 5_000);
const SECONDS = flags.positive('seconds', 15);
const WARMUP = flags.positive('warmup', 3, 0);
// Large enough that exactly-once's fixed waits (no output before the first checkpoint completes, the
// last records wait for one more) stay a small part of the time: see bench/README.md, Latency.
const SATURATION = flags.positive('saturation', 600_000, 0);
const ROUNDS = flags.positive('rounds', 1);
const BATCH_MS = flags.positive('batch-ms', 5);
const NATS_URL = process.env.WEIR_NATS_URL || 'nats://127.0.0.1:4222';
const REDIS_URL = process.env.WEIR_REDIS_URL || 'redis://127.0.0.1:6379';
process.env.WEIR_REDIS_URL = REDIS_URL;

const log = (line = '') => console.log(line);
const bench = new BenchMain(60_000);
const { resources } = bench;

interface SaturationResult {
  readonly n: number;
  readonly ms: number;
  readonly rate: number;
  readonly firstOutputMs: number;
  /** records/s between 10 % and 90 % of the outputs (NaN if the polls did not see both). */
  readonly middleRate: number;
  readonly outputs: number;
  readonly checkpoints: CheckpointStats['counts'];
}
interface RateResult {
  readonly published: number;
  readonly stored: number;
  readonly received: number;
  readonly distinct: number;
  readonly measured: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly achievedRate: number;
  readonly checkpoints: CheckpointStats['counts'];
  readonly lastCheckpointMs: number[];
}

const pct = (sorted: Float64Array, q: number): number => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);

async function main(): Promise<void> {
  log(`bench:latency — ${new Date().toISOString()}, ${os.availableParallelism()} cores, Node ${process.version}; NATS ${NATS_URL}, Redis ${REDIS_URL}`);
  log(`job bench/jobs/latency-job.ts p=${PARALLELISM}, checkpoints every ${INTERVAL_MS} ms; rate ${int(RATE)} msgs/s (batches every ${BATCH_MS} ms) for ${WARMUP} s warm-up + ${SECONDS} s measured; saturation ${int(SATURATION)} msgs; ${ROUNDS} round(s)`);

  const cluster = new RoleProcesses(NATS_URL, REDIS_URL, []);
  let nc: NatsConnection | undefined;
  const streams = new Set<string>();
  let jobId: string | undefined;
  const cancelJob = async (id: string): Promise<void> => {
    await restPost(cluster.restUrl, `/jobs/${id}/cancel`).catch((e) => console.error(`bench: cancel ${id}: ${String(e)}`));
    await waitFor(`job ${id} canceled`, async () => (['CANCELED', 'FAILED', 'FINISHED'].includes((await restGet<JobDetails>(cluster.restUrl, `/jobs/${id}`)).state) ? true : undefined), 20_000, 100).catch((e) =>
      console.error(`bench: ${String(e)}`),
    );
    if (jobId === id) jobId = undefined;
  };
  const deleteStream = async (jsm: JetStreamManager, name: string): Promise<void> => {
    await jsm.streams.delete(name).catch((e) => console.error(`bench: deleting stream ${name}: ${String(e)}`));
    streams.delete(name);
  };
  const resource = resources.add({
    what: 'the latency cluster',
    stop: async () => {
      if (jobId) await cancelJob(jobId);
      if (nc && streams.size > 0) {
        const jsm = await jetstreamManager(nc);
        for (const s of [...streams]) await deleteStream(jsm, s);
      }
      const notes = await cluster.stop(nc);
      if (nc) await withTimeout(nc.close(), 5000, 'closing NATS').catch(() => undefined);
      log(`cluster ${cluster.clusterId} stopped; ${notes.join('; ')}`);
    },
    killNow: () => cluster.killNow(),
  });

  try {
    nc = await withTimeout(connect({ servers: NATS_URL }), 10_000, `connecting to ${NATS_URL}`);
    const conn = nc;
    const jsm = await jetstreamManager(conn);
    const js = jetstream(conn);
    await cluster.start(['w1', 'w2']);
    log(`cluster ${cluster.clusterId} at ${cluster.restUrl}: workers w1 (pid ${cluster.pidOf('w1')}), w2 (pid ${cluster.pidOf('w2')}), 1 slot each`);

    let counter = 0;
    const makeStreams = async (): Promise<{ inStream: string; outStream: string; inSubject: string; outSubject: string }> => {
      const tag = `${cluster.clusterId}_${++counter}`;
      const s = { inStream: `LAT_${tag}_IN`, outStream: `LAT_${tag}_OUT`, inSubject: `lat.${tag}.in`, outSubject: `lat.${tag}.out` };
      streams.add(s.inStream);
      await jsm.streams.add({ name: s.inStream, subjects: [s.inSubject] });
      streams.add(s.outStream);
      await jsm.streams.add({ name: s.outStream, subjects: [s.outSubject] }); // default duplicate window: 2 min
      return s;
    };
    const messages = async (stream: string): Promise<number> => (await jsm.streams.info(stream)).state.messages;
    const job = (id: string) => restGet<JobDetails>(cluster.restUrl, `/jobs/${id}`);
    const submit = async (mode: Mode, s: { inStream: string; outSubject: string }): Promise<{ id: string; running: number }> => {
      const r = await weirCli(
        ['run', JOB, '-p', String(PARALLELISM), '--detach', '--checkpoint-interval', String(INTERVAL_MS), '--arg', `in=${s.inStream}`, '--arg', `out=${s.outSubject}`, '--arg', `delivery=${mode}`],
        { ...cluster.env, WEIR_LOG_LEVEL: 'warn' },
        120_000,
      );
      const id = r.stdout.trim();
      if (r.code !== 0 || !/^[0-9a-zA-Z_-]+$/.test(id)) throw new Error(`weir run exited ${r.code}: ${r.stdout}\n${r.stderr}`);
      jobId = id;
      await waitFor(`job ${id} RUNNING with every subtask RUNNING`, async () => {
        const v = await job(id);
        if (['FAILED', 'CANCELED', 'FINISHED'].includes(v.state)) throw new Error(`job ${id} ended ${v.state}: ${JSON.stringify(v.failure)}\n${cluster.tail.slice(-30).join('\n')}`);
        return v.state === 'RUNNING' && v.vertices.every((x) => x.subtasks.every((st) => st.status === 'RUNNING')) ? true : undefined;
      }, 60_000, 50);
      return { id, running: Date.now() };
    };
    const alive = async (id: string): Promise<JobDetails> => {
      const v = await job(id);
      if (v.state !== 'RUNNING') throw new Error(`job ${id} is ${v.state} (attempt ${v.attempt}, restarts ${v.restarts}): ${JSON.stringify(v.failure)}\n${cluster.tail.slice(-30).join('\n')}`);
      return v;
    };

    async function saturation(mode: Mode): Promise<SaturationResult> {
      const s = await makeStreams();
      // Fill the input stream: core publishes, flushed in batches, the stream kept within 50k of the producer.
      const fillStart = Date.now();
      for (let seq = 0; seq < SATURATION; ) {
        const end = Math.min(SATURATION, seq + 5000);
        const now = Date.now();
        for (; seq < end; seq++) conn.publish(s.inSubject, `${seq}:${now}`);
        await conn.flush();
        if (seq % 50_000 === 0) await waitFor(`input stream ${s.inStream} to store ${int(seq - 50_000)} messages`, async () => ((await messages(s.inStream)) >= seq - 50_000 ? true : undefined), 30_000, 20);
      }
      await waitFor(`input stream ${s.inStream} to store ${int(SATURATION)} messages`, async () => ((await messages(s.inStream)) >= SATURATION ? true : undefined), 30_000, 50).catch(async (e) => {
        throw new Error(`${(e as Error).message}: it holds ${int(await messages(s.inStream))}`);
      });
      log(`  ${mode} saturation: ${int(SATURATION)} messages stored in ${s.inStream} in ${int(Date.now() - fillStart)} ms`);
      const { id, running } = await submit(mode, s);
      let first: number | undefined;
      let tenth: { t: number; n: number } | undefined;
      let ninetieth: { t: number; n: number } | undefined;
      const done = await waitFor(`${int(SATURATION)} outputs in ${s.outStream}`, async () => {
        const n = await messages(s.outStream);
        if (n > 0 && first === undefined) first = Date.now();
        if (n >= 0.1 * SATURATION && tenth === undefined) tenth = { t: Date.now(), n };
        if (n >= 0.9 * SATURATION && ninetieth === undefined) ninetieth = { t: Date.now(), n };
        if (n >= SATURATION) return Date.now();
        const v = await job(id);
        if (v.state !== 'RUNNING') throw new Error(`job ${id} is ${v.state} with ${int(n)} outputs: ${JSON.stringify(v.failure)}\n${cluster.tail.slice(-30).join('\n')}`);
        return undefined;
      }, 300_000, 50).catch(async (e) => {
        const v = await job(id).catch(() => undefined);
        throw new Error(`${(e as Error).message}; job: ${JSON.stringify(v?.vertices.map((x) => [x.uid, x.status, x.recordsIn, x.recordsOut]))}`);
      });
      await sleep(1500); // anything beyond N (duplicates) would show now
      const outputs = await messages(s.outStream);
      const checkpoints = (await restGet<CheckpointStats>(cluster.restUrl, `/jobs/${id}/checkpoints`)).counts;
      await alive(id);
      await cancelJob(id);
      await deleteStream(jsm, s.inStream);
      await deleteStream(jsm, s.outStream);
      const middleRate = tenth && ninetieth && ninetieth.t > tenth.t ? ((ninetieth.n - tenth.n) * 1000) / (ninetieth.t - tenth.t) : NaN;
      const r = { n: SATURATION, ms: done - running, rate: (SATURATION * 1000) / (done - running), firstOutputMs: (first ?? done) - running, middleRate, outputs, checkpoints };
      log(
        `  ${mode} saturation: job ${id} RUNNING → all ${int(r.n)} outputs in ${int(r.ms)} ms = ${int(r.rate)} records/s (first output after ${int(r.firstOutputMs)} ms; 10 %→90 % of the outputs at ${Number.isFinite(middleRate) ? int(middleRate) : 'n/a'} records/s; ` +
          `output stream holds ${int(outputs)}; checkpoints completed ${checkpoints.completed}, failed ${checkpoints.failed})`,
      );
      return r;
    }

    async function rate(mode: Mode): Promise<RateResult> {
      const s = await makeStreams();
      const { id } = await submit(mode, s);
      const total = RATE * (WARMUP + SECONDS);
      const seen = new Uint8Array(total);
      const lat = new Float64Array(total);
      let measured = 0;
      let received = 0;
      let distinct = 0;
      let measureFrom = Infinity;
      const consumer = await js.consumers.get(s.outStream); // ordered, from the start
      const msgs = await consumer.consume({ max_messages: 10_000 });
      const reading = (async () => {
        for await (const m of msgs) {
          const now = Date.now();
          const text = m.string();
          const i = text.indexOf(':');
          const seq = Number(text.slice(0, i));
          const t = Number(text.slice(i + 1));
          received++;
          if (!(seq >= 0 && seq < total) || seen[seq]) continue;
          seen[seq] = 1;
          distinct++;
          if (t >= measureFrom) lat[measured++] = now - t;
        }
      })();
      try {
        await sleep(500);
        // Producer: core publishes, paced to RATE in batches every BATCH_MS.
        const start = Date.now();
        measureFrom = start + WARMUP * 1000;
        let published = 0;
        let lastCheck = start;
        while (published < total) {
          const target = Math.min(total, Math.floor(((Date.now() - start) * RATE) / 1000));
          for (; published < target; published++) conn.publish(s.inSubject, `${published}:${Date.now()}`);
          if (Date.now() - lastCheck > 2000) {
            lastCheck = Date.now();
            await alive(id);
          }
          await sleep(BATCH_MS);
        }
        await conn.flush();
        const sendMs = Date.now() - start;
        // Drain: until every record arrived, or 10 s without progress (at most 60 s).
        let last = distinct;
        let lastProgress = Date.now();
        const drainStart = Date.now();
        while (distinct < total && Date.now() - lastProgress < 10_000 && Date.now() - drainStart < 60_000) {
          await sleep(100);
          if (distinct !== last) (last = distinct), (lastProgress = Date.now());
        }
        const stored = await messages(s.inStream);
        await sleep(300);
        const cps = await restGet<CheckpointStats>(cluster.restUrl, `/jobs/${id}/checkpoints`);
        await alive(id);
        const sorted = lat.slice(0, measured).sort();
        const r: RateResult = {
          published,
          stored,
          received,
          distinct,
          measured,
          p50: pct(sorted, 0.5),
          p99: pct(sorted, 0.99),
          max: sorted.length ? sorted[sorted.length - 1]! : NaN,
          achievedRate: (published * 1000) / sendMs,
          checkpoints: cps.counts,
          lastCheckpointMs: cps.history.filter((c) => c.status === 'COMPLETED').map((c) => c.endToEndDurationMs),
        };
        log(
          `  ${mode} rate: job ${id}: published ${int(published)} (${int(r.achievedRate)} msgs/s), input stream stored ${int(stored)}, outputs received ${int(received)} (${int(distinct)} distinct, ${int(received - distinct)} repeated), ` +
            `latency over ${int(measured)} records: p50 ${int(r.p50)} ms, p99 ${int(r.p99)} ms, max ${int(r.max)} ms; checkpoints completed ${cps.counts.completed}, failed ${cps.counts.failed}, median duration ${r.lastCheckpointMs.length ? int(median(r.lastCheckpointMs)) : '-'} ms`,
        );
        return r;
      } finally {
        msgs.stop();
        await withTimeout(reading, 5000, 'stopping the output reader').catch(() => undefined);
        await cancelJob(id);
        await deleteStream(jsm, s.inStream);
        await deleteStream(jsm, s.outStream);
      }
    }

    const sat: Record<Mode, SaturationResult[]> = { 'at-least-once': [], 'exactly-once': [] };
    const lat: Record<Mode, RateResult[]> = { 'at-least-once': [], 'exactly-once': [] };
    for (let round = 1; round <= ROUNDS && !bench.interrupted; round++) {
      for (const mode of MODES) {
        log('');
        log(`round ${round}, ${mode}:`);
        if (SATURATION > 0) sat[mode].push(await saturation(mode));
        lat[mode].push(await rate(mode));
      }
    }
    if (bench.interrupted) return;

    log('');
    log('=== results ===');
    const satRate = (m: Mode) => (sat[m].length ? median(sat[m].map((r) => r.rate)) : NaN);
    for (const mode of MODES) {
      for (const [i, r] of lat[mode].entries()) {
        log(`${mode} (round ${i + 1}): p50 ${int(r.p50)} ms, p99 ${int(r.p99)} ms, max ${int(r.max)} ms over ${int(r.measured)} records; outputs ${int(r.distinct)} distinct / ${int(r.received)} received of ${int(r.published)} published (${int(r.stored)} stored in the input)`);
      }
      log(`${mode} saturation: ${sat[mode].map((r) => `${int(r.rate)} records/s (${int(r.n)} in ${int(r.ms)} ms, ${int(r.outputs)} outputs; 10 %→90 % at ${Number.isFinite(r.middleRate) ? int(r.middleRate) : 'n/a'} records/s)`).join('; ') || 'n/a'}`);
    }
    const eoP99 = Math.max(...lat['exactly-once'].map((r) => r.p99));
    const limit = INTERVAL_MS + TARGET_SLACK_MS;
    log(`exactly-once p99 ${int(eoP99)} ms ${eoP99 <= limit ? '<=' : '>'} ${limit} ms (checkpoint interval ${INTERVAL_MS} + ${TARGET_SLACK_MS} ms): target ${eoP99 <= limit ? 'met' : 'NOT met'}`);
    const ratio = satRate('exactly-once') / satRate('at-least-once');
    log(`throughput ratio target >= 0.8: ${Number.isFinite(ratio) ? (ratio >= 0.8 ? 'met' : 'NOT met') : 'n/a'}`);
    await resources.release(resource, 60_000);
    log(`exactly-once throughput ratio: ${Number.isFinite(ratio) ? ratio.toFixed(3) : 'n/a'}`);
  } finally {
    await resources.release(resource, 60_000);
  }
}

await bench.run(async () => {
  await main();
  return true;
});
