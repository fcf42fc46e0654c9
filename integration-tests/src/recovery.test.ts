import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { FIXTURES, ProcessCluster, REDIS_URL, uniqueId, waitFor, weir } from './harness.js';
import { assertExact, deleteStream, publishKeys, readHash } from './keys.js';

const RECORDS = 1_000_000;
const KEYED_COUNT = join(FIXTURES, 'keyed-count.ts');
const TICKS = join(FIXTURES, 'ticks.ts');
const WIDE_COUNT = join(FIXTURES, 'wide-count.ts');

/** A cluster started before a suite's tests, and stopped after them with the inputs and hashes they made deleted. */
function clusterForSuite(coordinatorArgs: string[], workers: string[]) {
  const cluster = new ProcessCluster(coordinatorArgs);
  const hashes: string[] = [];
  const streams: string[] = [];
  before(async () => cluster.start(workers));
  after(async () => {
    await cluster.stop();
    for (const s of streams) await deleteStream(s);
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    if (hashes.length > 0) await redis.del(...hashes);
    redis.disconnect();
  });
  /** A fresh input stream of `records` keys and the hash the job writes to, both deleted after the suite. */
  const input = async (tag: string, records: number, keySpace?: number) => {
    const id = uniqueId('');
    const stream = `IT${tag.toUpperCase()}_${id}`;
    const hash = `it:${tag}:${id}`;
    streams.push(stream);
    hashes.push(hash);
    return { id, stream, hash, expected: await publishKeys(stream, `it${tag}.${id}`, records, keySpace) };
  };
  return { cluster, input };
}

describe('recovery from the latest checkpoint (real processes, kill -9, real NATS and Redis)', { timeout: 600_000 }, () => {
  const { cluster, input } = clusterForSuite(['--heartbeat-timeout', '3000', '--slot-wait-timeout', '30000'], ['w1', 'w2']);
  const tmp = mkdtempSync(join(tmpdir(), 'weir-rec-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('a keyed count over 1,000,000 records survives three SIGKILLs of a worker with every count exact', { timeout: 300_000 }, async () => {
    // 200,000 keys: enough changed keys between checkpoints that the workers pack state ahead of
    // their captures (asserted below), so recovery is checked through that path too.
    const { id, stream, hash, expected } = await input('rec', RECORDS, 200_000);
    const r = await weir(['run', KEYED_COUNT, '-p', '2', '--detach', '--arg', `stream=${stream}`, '--arg', `hash=${hash}`], cluster.env);
    assert.equal(r.code, 0, r.stderr);
    const jobId = r.stdout.trim();
    await cluster.killWorkersAfterCheckpoints(jobId, 3, 700);
    const final = await cluster.waitForFinished(jobId, 180_000);
    assert.equal(final.restarts, 3);
    assertExact(await readHash(hash), expected);

    const cps = (await cluster.rest('GET', `/jobs/${jobId}/checkpoints`)).body;
    assert.ok(cps.counts.restored >= 3, `restores counted: ${JSON.stringify(cps.counts)}`);
    assert.ok(cps.latest.restored, 'latest restore shown');
    assert.ok(cps.counts.completed >= 3, `checkpoints completed: ${JSON.stringify(cps.counts)}`);
    // The newest may have been triggered as the job ended and completed by its subtasks finishing (no acks): take one they acknowledged.
    const completed = cps.history.find((e: { status: string; numAcknowledged: number }) => e.status === 'COMPLETED' && e.numAcknowledged > 0);
    assert.ok(completed.stateBytes > 0 && completed.checkpointedBytes > 0 && completed.subtasks.length > 0, JSON.stringify(completed));
    const joined = cps.history.flatMap((e: { subtasks: { packedAheadBytes: number; writtenBytes: number }[] }) => e.subtasks).filter((t: { packedAheadBytes: number }) => t.packedAheadBytes > 0);
    assert.ok(joined.length > 0, 'some checkpoint joined rows packed ahead of its barrier');
    for (const t of joined) assert.ok(t.packedAheadBytes <= t.writtenBytes, JSON.stringify(t));
    // Start delays: trigger -> the barrier reached the subtask, within the checkpoint (one machine, one clock).
    type Acked = { startDelayMs: number; ackTimestamp: number };
    const acked = cps.history.flatMap((e: { triggerTimestamp: number; subtasks: Acked[] }) => e.subtasks.map((t) => ({ ...t, sinceTrigger: t.ackTimestamp - e.triggerTimestamp })));
    for (const t of acked) assert.ok(t.startDelayMs >= 0 && t.startDelayMs <= t.sinceTrigger, JSON.stringify(t));
    assert.ok(acked.some((t: Acked) => t.startDelayMs > 0), 'some barrier took time to reach its subtask');
    const ex = (await cluster.rest('GET', `/jobs/${jobId}/exceptions`)).body;
    assert.equal(ex.history.length, 3);
    for (const e of ex.history) assert.equal(e.code, 'WEIR_WORKER_LOST');
    const cli = await weir(['checkpoints', jobId], cluster.env);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /restored [3-9]/);
    assert.match(cli.stdout, /latest restore: from #\d+/);
    assert.match(cli.stdout, /DURATION +START DELAY +SYNC/);
  });

  test('a keyed count with maxParallelism 32768 at parallelism 1: its checkpoints (every key group listed in one acknowledgement, several MB before the wire deflates it) complete, and a SIGKILL restores from them exact', { timeout: 200_000 }, async () => {
    const { stream, hash, expected } = await input('wide', 300_000, 400_000);
    const r = await weir(['run', WIDE_COUNT, '-p', '1', '--detach', '--arg', `stream=${stream}`, '--arg', `hash=${hash}`, '--arg', 'spin=20000'], cluster.env);
    assert.equal(r.code, 0, r.stderr);
    const jobId = r.stdout.trim();
    await cluster.killWorkersAfterCheckpoints(jobId, 1, 300);
    const final = await cluster.waitForFinished(jobId, 150_000);
    assert.equal(final.restarts, 1);
    assertExact(await readHash(hash), expected);
    const cps = (await cluster.rest('GET', `/jobs/${jobId}/checkpoints`)).body;
    assert.ok(cps.counts.restored >= 1 && cps.counts.completed >= 2, JSON.stringify(cps.counts));
  });

  test('a record that throws once after a checkpoint: the job restarts from it and ends exact', { timeout: 300_000 }, async () => {
    const { id, stream, hash, expected } = await input('rec', RECORDS);
    const armFile = join(tmp, `arm-${id}`);
    const marker = join(tmp, `thrown-${id}`);
    const r = await weir(['run', KEYED_COUNT, '-p', '2', '--detach', '--arg', `stream=${stream}`, '--arg', `hash=${hash}`, '--arg', `armFile=${armFile}`, '--arg', `throwMarker=${marker}`], cluster.env);
    assert.equal(r.code, 0, r.stderr);
    const jobId = r.stdout.trim();
    const checkpoints = async () => (await cluster.rest('GET', `/jobs/${jobId}/checkpoints`)).body;
    await waitFor('a completed checkpoint', async () => ((await checkpoints()).counts.completed > 0 ? true : undefined), 60_000, 50);
    writeFileSync(armFile, 'armed'); // the next record the map checks throws
    const v = await cluster.waitForFinished(jobId, 180_000);
    assert.ok(existsSync(marker), 'the record threw');
    assertExact(await readHash(hash), expected);
    assert.equal(v.restarts, 1);
    const ex = (await cluster.rest('GET', `/jobs/${jobId}/exceptions`)).body;
    assert.equal(ex.history.length, 1);
    assert.match(ex.history[0].message, /record 'k\d+' fails once/);
    assert.ok(ex.history[0].task.includes('check'), ex.history[0].task);
    const cps = await checkpoints();
    assert.ok(cps.counts.restored >= 1 && cps.latest.restored, `restored from a checkpoint: ${JSON.stringify(cps.counts)}`);
  });
});

describe('a worker killed and not replaced (real processes, kill -9, no supervisor)', { timeout: 300_000 }, () => {
  // Heartbeats would notice only after 10 minutes: within this test's waits, only the NATS probe can.
  const { cluster, input } = clusterForSuite(['--heartbeat-timeout', '600000'], ['w1', 'w2', 'w3']);

  test('is found gone from NATS, and the job restarts on the spare worker with every count exact', { timeout: 240_000 }, async () => {
    const { id, stream, hash, expected } = await input('gone', 300_000);
    const r = await weir(['run', KEYED_COUNT, '-p', '2', '--detach', '--arg', `stream=${stream}`, '--arg', `hash=${hash}`], cluster.env);
    assert.equal(r.code, 0, r.stderr);
    const jobId = r.stdout.trim();
    await waitFor('a completed checkpoint', async () => ((await cluster.rest('GET', `/jobs/${jobId}/checkpoints`)).body.counts.completed > 0 ? true : undefined), 60_000, 50);
    const workers = (await cluster.rest<{ workers: { id: string; freeSlots: number }[] }>('GET', '/workers')).body.workers;
    const victim = workers.find((w) => w.freeSlots === 0)!.id;
    assert.equal(workers.filter((w) => w.freeSlots === 1).length, 1, `one spare worker: ${JSON.stringify(workers)}`);
    await cluster.killWorker(victim);

    const final = await cluster.waitForFinished(jobId, 180_000);
    assert.equal(final.restarts, 1);
    assertExact(await readHash(hash), expected);
    const ex = (await cluster.rest('GET', `/jobs/${jobId}/exceptions`)).body;
    assert.equal(ex.history.length, 1);
    assert.equal(ex.history[0].code, 'WEIR_WORKER_LOST');
    assert.match(ex.history[0].message, new RegExp(`worker ${victim} .*is gone: NATS has had no subscriber for it`));
    const left = (await cluster.rest<{ workers: { id: string }[] }>('GET', '/workers')).body.workers.map((w) => w.id);
    assert.ok(!left.includes(victim), `the lost worker is no longer listed: ${left.join(', ')}`);
  });
});

describe('a worker declared lost while it still runs (SIGSTOP, real processes)', { timeout: 120_000 }, () => {
  // Heartbeats find the stalled worker lost; the NATS probe cannot (its connection stays open).
  const { cluster } = clusterForSuite(['--heartbeat-timeout', '1500'], ['w1']);

  test('its tasks of the failed-over attempt stop once it is back: no second stream of output beside the new attempt', { timeout: 100_000 }, async () => {
    const r = await weir(['run', TICKS, '--detach', '--arg', 'rate=500'], cluster.env);
    assert.equal(r.code, 0, r.stderr);
    const jobId = r.stdout.trim();
    const ticks = (from: number) => [...cluster.output.slice(from).matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1]));
    await waitFor('tick 2000 printed', () => (ticks(0).some((t) => t >= 2000) ? true : undefined), 30_000, 50);
    const worker = cluster.workers.get('w1')!;
    worker.kill('SIGSTOP');
    try {
      await waitFor('the worker declared lost', async () => ((await cluster.job(jobId)).attempt > 1 ? true : undefined), 30_000, 100);
    } finally {
      worker.kill('SIGCONT');
    }
    // The new attempt runs on the same worker once it registers again, and starts at tick 0.
    await waitFor('attempt 2 running', async () => {
      const v = await cluster.job(jobId);
      return v.state === 'RUNNING' && v.attempt === 2 ? true : undefined;
    }, 30_000, 100);
    const mark = cluster.output.length;
    await waitFor('the new attempt printing', () => (ticks(mark).length > 200 ? true : undefined), 30_000, 50);
    const late = cluster.output.length;
    await new Promise((res) => setTimeout(res, 1500));
    // Before 2026-12-05 the old attempt went on printing from where it was (2000 and up) beside the
    // new one: the worker had been dropped, so the coordinator never canceled it.
    const after = ticks(late);
    assert.ok(after.length > 100, `the new attempt prints: ${after.length} ticks`);
    assert.deepEqual(after.filter((t) => t >= 2000), [], 'nothing more of the old attempt');
    assert.equal((await weir(['cancel', jobId], cluster.env)).code, 0);
  });
});
