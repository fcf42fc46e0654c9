/**
 * bench:throughput — records/s of examples/wordcount at parallelism 2 over JetStream on a real
 * multi-process cluster, and in the same run the broker's limit: a bare JetStream publish +
 * consume of the same frames (same records, same msgpackr encoding, same batch size).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, DiscardPolicy } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { encodeRecords } from '@weir/runtime';
import { defaultGeneratedLine, seededRandom } from '@weir/sdk/connectors';

const WORDS = Number(process.env.BENCH_WORDS ?? 4_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BATCH = 512; // DEFAULT_TASK_OPTIONS.batchSize
const NATS = process.env.WEIR_NATS_URL ?? 'nats://127.0.0.1:4222';
const CLI = fileURLToPath(new URL('../../packages/cli/dist/main.js', import.meta.url));
const JOB = fileURLToPath(new URL('../../examples/wordcount/src/job.ts', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function exec(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    const t = setTimeout(() => c.kill('SIGKILL'), 600_000);
    c.on('close', (code) => (clearTimeout(t), resolve({ code, err })));
  });
}

async function weirRuns(): Promise<number[]> {
  const cluster = `bench${randomBytes(3).toString('hex')}`;
  const port = await freePort();
  const env = { ...process.env, WEIR_CLUSTER_ID: cluster, WEIR_NATS_URL: NATS, WEIR_LOG_LEVEL: 'warn' };
  const up = spawn(process.execPath, [CLI, 'cluster', 'up', '--workers', '2', '--rest-port', String(port)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  up.stdout.on('data', (d) => (out += d));
  const rest = `http://127.0.0.1:${port}`;
  const rates: number[] = [];
  try {
    for (let i = 0; i < 300 && !out.includes('WEIR_REST_URL='); i++) await sleep(100);
    if (!out.includes('WEIR_REST_URL=')) throw new Error('cluster did not come up');
    for (let run = 0; run < RUNS; run++) {
      const r = await exec(['run', JOB, '-p', '2', '--arg', 'source=generator', '--arg', `words=${WORDS}`, '--arg', 'output=none'], { ...env, WEIR_REST_URL: rest });
      const id = /as job ([0-9a-f]{16})/.exec(r.err)?.[1];
      if (r.code !== 0 || !id) throw new Error(`wordcount failed: ${r.err}`);
      const view = (await (await fetch(`${rest}/jobs/${id}`)).json()) as { duration: number; vertices: { uid: string; recordsIn: number }[] };
      const words = view.vertices.find((v) => v.uid === 'count')!.recordsIn;
      rates.push(words / (view.duration / 1000));
      console.log(`  weir run ${run + 1}: ${words} words in ${view.duration} ms = ${Math.round(rates.at(-1)!)} records/s`);
    }
  } finally {
    up.kill('SIGTERM');
    for (let i = 0; i < 100 && up.exitCode === null && up.signalCode === null; i++) await sleep(50);
    if (up.exitCode === null && up.signalCode === null) up.kill('SIGKILL');
    const nc = await connect({ servers: NATS });
    const jsm = await jetstreamManager(nc);
    for await (const s of jsm.streams.list()) if (s.config.name.includes(`_${cluster}_`) || s.config.name.endsWith(`weir_${cluster}_artifacts`)) await jsm.streams.delete(s.config.name);
    await nc.close();
  }
  return rates;
}

/** Bare JetStream: publish the frames from one connection while another consumes and acks them. */
async function raw(frames: Uint8Array[], window: number): Promise<number> {
  const name = `BENCH_RAW_${randomBytes(3).toString('hex')}`;
  const pub = await connect({ servers: NATS });
  const sub = await connect({ servers: NATS });
  const jsm = await jetstreamManager(pub);
  await jsm.streams.add({ name, subjects: [`${name}.>`], retention: RetentionPolicy.Workqueue, storage: StorageType.Memory, discard: DiscardPolicy.New, max_msgs: 20_000 });
  await jsm.consumers.add(name, { durable_name: 'c', ack_policy: AckPolicy.Explicit, max_ack_pending: 10_000 });
  try {
    const js = jetstream(pub);
    const consumer = await jetstream(sub).consumers.get(name, 'c');
    const t0 = performance.now();
    const consumed = (async () => {
      const it = await consumer.consume({ max_messages: 32 });
      let n = 0;
      for await (const m of it) {
        m.ack();
        if (++n === frames.length) break;
      }
    })();
    for (let i = 0; i < frames.length; i += window) {
      await Promise.all(frames.slice(i, i + window).map((f) => js.publish(`${name}.x`, f)));
    }
    await consumed;
    return performance.now() - t0;
  } finally {
    await jsm.streams.delete(name);
    await pub.close();
    await sub.close();
  }
}

console.log(`bench:throughput — wordcount, ${WORDS} words, parallelism 2, ${RUNS} runs, frames of ${BATCH} records`);
const rates = await weirRuns();
const words: string[] = [];
for (let i = 0; words.length < WORDS; i++) words.push(...defaultGeneratedLine(i, seededRandom(1, i)).split(' '));
const frames: Uint8Array[] = [];
for (let i = 0, seq = 0; i < WORDS; i += BATCH) frames.push(encodeRecords(seq++, words.slice(i, i + BATCH)));
const bytes = frames.reduce((n, f) => n + f.length, 0);
const pipelinedMs = Math.min(await raw(frames, 256), await raw(frames, 256));
const oneMs = await raw(frames, 1);
const rawRate = WORDS / (pipelinedMs / 1000);
const best = Math.max(...rates);
const median = [...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)]!;
const row = (what: string, rate: number, extra = '') => console.log(`${what.padEnd(44)} ${String(Math.round(rate)).padStart(10)} records/s ${extra}`);
console.log('');
row('weir wordcount p=2 over JetStream (best)', best);
row('weir wordcount p=2 over JetStream (median)', median);
row('raw JetStream publish+consume, pipelined', rawRate, `(${Math.round(frames.length / (pipelinedMs / 1000))} frames/s, ${(bytes / 1e6 / (pipelinedMs / 1000)).toFixed(1)} MB/s, ${frames.length} frames, ${(bytes / 1e6).toFixed(1)} MB)`);
row('raw JetStream publish+consume, 1 in flight', WORDS / (oneMs / 1000), `(${Math.round(frames.length / (oneMs / 1000))} frames/s)`);
row('hand-written NATS consumer + Redis write per event', 15_000, '(reference from the brief)');
console.log(`throughput ratio: ${(best / rawRate).toFixed(3)}`);
