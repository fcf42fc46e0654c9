import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import { FIXTURES, ProcessCluster, REDIS_URL, uniqueId, waitFor, weir, withNats } from './harness.js';
import { deleteStream, expectedUpdates, multiset, publishKeys } from './keys.js';

const EO_COUNT = join(FIXTURES, 'eo-count.ts');

interface Outputs {
  jetstream: Map<string, number>;
  redis: Map<string, number>;
  file: Map<string, number>;
}

async function readOutputs(outStream: string, list: string, dir: string): Promise<Outputs> {
  const js = await withNats(async (nc) => {
    const jsm = await jetstreamManager(nc);
    const total = (await jsm.streams.info(outStream)).state.messages;
    const lines: string[] = [];
    if (total > 0) {
      const consumer = await jetstream(nc).consumers.get(outStream, { deliver_policy: DeliverPolicy.All });
      const messages = await consumer.consume();
      for await (const m of messages) {
        lines.push(m.string());
        if (lines.length >= total) break;
      }
      messages.stop();
    }
    return lines;
  });
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const listed = await redis.lrange(list, 0, -1);
  redis.disconnect();
  const files: string[] = [];
  for (const f of readdirSync(dir)) if (!f.startsWith('.')) for (const l of readFileSync(join(dir, f), 'utf8').split('\n')) if (l !== '') files.push(l);
  return { jetstream: multiset(js), redis: multiset(listed), file: multiset(files) };
}

/** Every expected update present; returns how many extra copies there are. */
function compare(what: string, got: Map<string, number>, expected: Map<string, number>): { missing: number; duplicates: number; unexpected: number } {
  let missing = 0;
  let duplicates = 0;
  let unexpected = 0;
  for (const k of expected.keys()) if (!got.has(k)) missing++;
  for (const [k, n] of got) {
    if (!expected.has(k)) unexpected++;
    else duplicates += n - 1;
  }
  return { missing, duplicates, unexpected };
}

describe('end-to-end exactly-once: JetStream source -> keyed count -> JetStream, Redis and file sinks (kill -9)', { timeout: 900_000 }, () => {
  const cluster = new ProcessCluster(['--heartbeat-timeout', '3000']);
  const tmp = mkdtempSync(join(tmpdir(), 'weir-eo-'));
  const streams: string[] = [];
  const lists: string[] = [];

  before(async () => cluster.start(['w1', 'w2']));
  after(async () => {
    await cluster.stop();
    for (const s of streams) await deleteStream(s);
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    if (lists.length > 0) await redis.del(...lists);
    redis.disconnect();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Input of `records` keys, and empty outputs: the job's `--arg`s, and how to read what it wrote. */
  async function prepareRun(delivery: string, records: number): Promise<{ args: string[]; counts: Map<string, number>; outputs: () => Promise<Outputs> }> {
    const id = uniqueId('');
    const input = `ITEO_${id}`;
    const output = `ITEOOUT_${id}`;
    const list = `it:eo:${id}`;
    const dir = join(tmp, id);
    streams.push(input, output);
    lists.push(list);
    const counts = await publishKeys(input, `iteo.${id}.in`, records);
    await withNats(async (nc) => (await jetstreamManager(nc)).streams.add({ name: output, subjects: [`iteo.${id}.out`], duplicate_window: 120_000_000_000 }));
    const args = ['--arg', `stream=${input}`, '--arg', `subject=iteo.${id}.out`, '--arg', `list=${list}`, '--arg', `dir=${dir}`, '--arg', `delivery=${delivery}`];
    return { args, counts, outputs: () => readOutputs(output, list, dir) };
  }

  /** Run the job with `delivery`, killing a worker after a checkpoint `kills` times (restarting it), or with a crash point. */
  async function runJob(delivery: string, records: number, kills: number, fault?: string, extra: string[] = []): Promise<{ outputs: Outputs; expected: Map<string, number>; jobId: string }> {
    const run = await prepareRun(delivery, records);
    if (fault) {
      // Both workers carry the crash point; whichever runs the sink subtask dies there.
      for (const w of ['w1', 'w2']) await cluster.killWorker(w);
      for (const w of ['w1', 'w2']) cluster.startWorker(w, { WEIR_FAULT: fault });
      await cluster.waitForWorkers(2);
    }
    const jobId = await submit([...run.args, ...extra]);
    await cluster.killWorkersAfterCheckpoints(jobId, kills, 400);
    if (fault) {
      // The crash point kills a worker once; restart it like a supervisor, without the fault.
      await waitFor('the crash point fired', () => [...cluster.workers.values()].some((c) => c.exitCode !== null || c.signalCode !== null) || undefined, 60_000, 50);
      for (const [w, c] of cluster.workers) if (c.exitCode !== null || c.signalCode !== null) cluster.startWorker(w);
    }
    const final = await cluster.waitForFinished(jobId, 240_000);
    assert.equal(final.restarts, fault ? 1 : kills);
    if (fault) {
      // Leave healthy workers for the next test.
      for (const w of ['w1', 'w2']) await cluster.killWorker(w).catch(() => undefined);
      for (const w of ['w1', 'w2']) cluster.startWorker(w);
      await cluster.waitForWorkers(2);
    }
    return { outputs: await run.outputs(), expected: expectedUpdates(run.counts), jobId };
  }

  /** Submit eo-count detached with `args`; its id. */
  async function submit(args: string[]): Promise<string> {
    const r = await weir(['run', EO_COUNT, '-p', '2', '--detach', ...args], cluster.env);
    assert.equal(r.code, 0, r.stderr);
    const jobId = r.stdout.trim();
    lists.push(`weir:sink:{${jobId}}:to-redis`); // the Redis sink's commit progress for this job, deleted with the lists
    return jobId;
  }

  // Enough input that the job still runs at the third kill: at 200,000 records it sometimes
  // finished first once exactly-once got faster (about 30,000 records/s here).
  const KILLED_RECORDS = 500_000;

  test('exactly-once: after three SIGKILLs every update is in each sink exactly once', { timeout: 400_000 }, async () => {
    const { outputs, expected } = await runJob('exactly-once', KILLED_RECORDS, 3);
    const results = Object.fromEntries(Object.entries(outputs).map(([sink, got]) => [sink, compare(sink, got, expected)]));
    const clean = { missing: 0, duplicates: 0, unexpected: 0 };
    assert.deepEqual(results, { jetstream: clean, redis: clean, file: clean });
  });

  test('at-least-once: after three SIGKILLs every update is there, and duplicates occur', { timeout: 400_000 }, async () => {
    const { outputs, expected } = await runJob('at-least-once', KILLED_RECORDS, 3);
    let duplicates = 0;
    for (const [sink, got] of Object.entries(outputs)) {
      const c = compare(sink, got, expected);
      assert.equal(c.missing, 0, `${sink} sink: nothing missing`);
      assert.equal(c.unexpected, 0, `${sink} sink: nothing made up`);
      duplicates += c.duplicates;
    }
    assert.ok(duplicates > 0, 'replays after the kills duplicated some updates');
  });

  test('a crash after a checkpoint completed and before its commit still ends exactly once', { timeout: 400_000 }, async () => {
    const { outputs, expected, jobId } = await runJob('exactly-once', 200_000, 0, 'before-commit:to-jetstream:0:2', ['--checkpoint-interval', '100']);
    const results = Object.fromEntries(Object.entries(outputs).map(([sink, got]) => [sink, compare(sink, got, expected)]));
    const clean = { missing: 0, duplicates: 0, unexpected: 0 };
    if (process.env.EO_DEBUG) {
      const dups = [...outputs.jetstream].filter(([, n]) => n > 1).map(([k]) => k);
      const miss = [...expected.keys()].filter((k) => !outputs.redis.has(k));
      console.log('DEBUG dups', dups.length, dups.slice(0, 10), 'miss', miss.length, miss.slice(0, 10), 'same', dups.filter((d) => miss.includes(d)).length);
      console.log('DEBUG', JSON.stringify((await cluster.rest('GET', `/jobs/${jobId}/checkpoints`)).body.counts), JSON.stringify((await cluster.rest('GET', `/jobs/${jobId}/checkpoints`)).body.latest.restored));
      console.log(cluster.output.split('\n').filter((l) => /error|warn/i.test(l)).slice(-20).join('\n').slice(0, 4000));
    }
    assert.deepEqual(results, { jetstream: clean, redis: clean, file: clean });
    const ex = (await cluster.rest('GET', `/jobs/${jobId}/exceptions`)).body;
    assert.equal(ex.history[0].code, 'WEIR_WORKER_LOST');
    const cps = (await cluster.rest('GET', `/jobs/${jobId}/checkpoints`)).body;
    assert.ok(cps.latest.restored.id >= 2, `restored from checkpoint 2 or later: ${JSON.stringify(cps.latest.restored)}`);
  });

  test('a stop with a savepoint and no drain commits its last transaction: resumed from it, every update is in each sink exactly once', { timeout: 300_000 }, async () => {
    const run = await prepareRun('exactly-once', 200_000);
    const first = await submit(run.args);
    await waitFor('a completed checkpoint', async () => ((await cluster.rest('GET', `/jobs/${first}/checkpoints`)).body.counts.completed > 0 ? true : undefined), 60_000, 50);
    const stop = await weir(['stop', first, '--savepoint'], cluster.env);
    assert.equal(stop.code, 0, stop.stderr);
    const savepoint = /sp-[0-9a-f]{16}/.exec(stop.stdout + stop.stderr)?.[0];
    assert.ok(savepoint, `the stop names its savepoint: ${stop.stdout} ${stop.stderr}`);
    assert.equal((await cluster.job(first)).state, 'FINISHED');
    const second = await submit([...run.args, '--from-savepoint', savepoint]);
    await cluster.waitForFinished(second, 240_000);
    const outputs = await run.outputs();
    const expected = expectedUpdates(run.counts);
    const results = Object.fromEntries(Object.entries(outputs).map(([sink, got]) => [sink, compare(sink, got, expected)]));
    const clean = { missing: 0, duplicates: 0, unexpected: 0 };
    assert.deepEqual(results, { jetstream: clean, redis: clean, file: clean });
  });
});
