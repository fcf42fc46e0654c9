import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { NatsTransport, RemoteActorError } from '@weir/actors';
import { FIXTURES, jobIdIn, LocalCluster, waitFor, weir, withNats, WORDCOUNT } from './harness.js';
import { readCounts, writeWordFile } from './text.js';

describe('weir cluster up --workers 2 (real processes, real NATS)', { timeout: 300_000 }, () => {
  const cluster = new LocalCluster(2, ['--slot-wait-timeout', '3000']);
  const tmp = mkdtempSync(join(tmpdir(), 'weir-it-'));

  before(async () => cluster.start());
  after(async () => {
    await cluster.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('wordcount at parallelism 2 over 1,000,000 words: every count exact, job FINISHED, weir run returns', { timeout: 180_000 }, async () => {
    const input = join(tmp, 'words.txt');
    const expected = writeWordFile(input, 100_000);
    const out = join(tmp, 'out');
    const r = await weir(['run', WORDCOUNT, '-p', '2', '--arg', 'source=file', '--arg', `input=${input}`, '--arg', 'output=file', '--arg', `out=${out}`], cluster.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /FINISHED/);
    const got = readCounts(out);
    assert.equal(got.lines, 1_000_000, 'one update per word');
    assert.equal(got.parts.length, 2);
    assert.ok(got.parts.every((n) => n > 100_000), `both count subtasks worked: ${got.parts.join(', ')}`);
    assert.equal(got.counts.size, expected.size);
    for (const [w, n] of expected) assert.equal(got.counts.get(w), n, `count of '${w}'`);
    const id = jobIdIn(r.stderr)!;
    const view = (await cluster.rest('GET', `/jobs/${id}`)).body;
    assert.equal(view.state, 'FINISHED');
    assert.equal(view.name, 'wordcount');
    const count = view.vertices.find((v: { uid: string }) => v.uid === 'count');
    assert.equal(count.parallelism, 2);
    assert.equal(count.recordsIn, 1_000_000);
    assert.equal(count.status, 'FINISHED');
    assert.deepEqual(new Set(count.subtasks.map((s: { worker: string }) => s.worker)).size, 2, 'subtasks ran on both workers');
  });

  test('a task with two inputs, each with a local and a remote sender, counts every record (union at p=2)', { timeout: 120_000 }, async () => {
    const out = join(tmp, 'union-out');
    const r = await weir(['run', join(FIXTURES, 'union-count.ts'), '-p', '2', '--arg', 'n=200000', '--arg', `out=${out}`], cluster.env);
    assert.equal(r.code, 0, r.stderr);
    const got = readCounts(out);
    assert.equal(got.lines, 400_000, 'one update per record of both sources');
    assert.equal(got.counts.size, 1000);
    for (let j = 0; j < 1000; j++) assert.equal(got.counts.get(`k${j}`), j < 400 ? 200 + 500 : 200, `count of k${j}`);
    const view = (await cluster.rest('GET', `/jobs/${jobIdIn(r.stderr)!}`)).body;
    const count = view.vertices.find((v: { uid: string }) => v.uid === 'count');
    assert.equal(count.recordsIn, 400_000);
    assert.equal(new Set(count.subtasks.map((s: { worker: string }) => s.worker)).size, 2, 'subtasks ran on both workers');
  });

  test('an unbounded job runs until weir cancel', { timeout: 60_000 }, async () => {
    const r = await weir(['run', WORDCOUNT, '-p', '2', '--detach', '--arg', 'source=generator', '--arg', 'unbounded=true', '--arg', 'rate=2000', '--arg', 'output=none'], cluster.env);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    assert.match(id, /^[0-9a-f]{16}$/);
    await waitFor('records flowing', async () => {
      const v = (await cluster.rest('GET', `/jobs/${id}`)).body;
      return v.state === 'RUNNING' && v.vertices.find((x: { uid: string }) => x.uid === 'count').recordsIn > 0 ? v : undefined;
    });
    const list = await weir(['list'], cluster.env);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${id}\\s+wordcount\\s+RUNNING`));
    await sleepMs(1500);
    assert.equal((await cluster.rest('GET', `/jobs/${id}`)).body.state, 'RUNNING', 'still running: it does not end by itself');
    const c = await weir(['cancel', id], cluster.env);
    assert.equal(c.code, 0, c.stderr);
    await waitFor('CANCELED', async () => ((await cluster.rest('GET', `/jobs/${id}`)).body.state === 'CANCELED' ? true : undefined));
    await waitFor('slots free again', async () => ((await cluster.rest('GET', '/overview')).body.slotsAvailable === 2 ? true : undefined));
  });

  test('a task that fails every attempt exhausts the restart strategy: FAILED with its root cause in REST and CLI', { timeout: 60_000 }, async () => {
    const r = await weir(['run', join(FIXTURES, 'throws.ts')], cluster.env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /FAILED in .*explode.*boom on record 500/);
    assert.match(r.stderr, /not restarted after 2 restart\(s\): fixed-delay restart strategy exhausted/);
    const id = jobIdIn(r.stderr)!;
    const view = (await cluster.rest('GET', `/jobs/${id}`)).body;
    assert.equal(view.state, 'FAILED');
    assert.equal(view.attempt, 3, 'the first attempt and two restarts');
    assert.equal(view.restarts, 2);
    assert.match(view.failure.message, /boom on record 500/);
    assert.ok(view.failure.workerId);
    const explode = view.vertices.find((v: { uid: string }) => v.uid === 'explode');
    assert.equal(explode.status, 'FAILED', 'the last attempt stays visible after FAILED');
    assert.ok(explode.subtasks[0].worker);
    const ex = (await cluster.rest('GET', `/jobs/${id}/exceptions`)).body;
    assert.equal(ex.history.length, 3, 'one failure per attempt');
    assert.deepEqual(ex.history.map((e: { attempt: number }) => e.attempt), [3, 2, 1], 'newest first');
    assert.match(ex.rootException.message, /boom on record 500/);
    assert.match(ex.restartStrategyExhausted, /fixed-delay/);
    const cli = await weir(['checkpoints', id], cluster.env);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /restarts: 2 \(not restarted: fixed-delay restart strategy exhausted/);
    assert.match(cli.stdout, /root cause: WEIR_TASK_EXCEPTION: boom on record 500/);
  });

  test('a worker that dies is started again under its id, and a running job carries on', { timeout: 120_000 }, async () => {
    const r = await weir(['run', WORDCOUNT, '-p', '2', '--detach', '--arg', 'source=generator', '--arg', 'unbounded=true', '--arg', 'rate=2000', '--arg', 'output=none'], cluster.env);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    const job = async () => (await cluster.rest('GET', `/jobs/${id}`)).body;
    await waitFor('RUNNING', async () => ((await job()).state === 'RUNNING' ? true : undefined), 30_000);
    const workers = async () => (await cluster.rest<{ workers: { id: string; pid: number }[] }>('GET', '/workers')).body.workers;
    const w1 = (await workers()).find((w) => w.id === 'w1')!;
    process.kill(w1.pid, 'SIGKILL');
    await waitFor('w1 registered again as a new process', async () => ((await workers()).some((w) => w.id === 'w1' && w.pid !== w1.pid) ? true : undefined), 30_000, 100);
    await waitFor('the job counting again in a new attempt', async () => {
      const v = await job();
      return v.state === 'RUNNING' && v.attempt > 1 && v.vertices.find((x: { uid: string }) => x.uid === 'count').recordsIn > 0 ? true : undefined;
    }, 30_000, 100);
    assert.match(cluster.output, new RegExp(`worker w1 \\(pid ${w1.pid}\\) exited \\(SIGKILL\\)`));
    assert.match(cluster.output, /starting worker w1 again/);
    assert.equal((await cluster.rest('POST', `/jobs/${id}/cancel`)).status, 202);
    await waitFor('CANCELED', async () => ((await job()).state === 'CANCELED' ? true : undefined));
    await waitFor('slots free again', async () => ((await cluster.rest('GET', '/overview')).body.slotsAvailable === 2 ? true : undefined));
  });

  describe('bad input gives a clear error and the cluster keeps running', () => {
    test('a job file that does not exist', async () => {
      const r = await weir(['run', join(tmp, 'missing.ts')], cluster.env);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /WEIR_JOB_FILE_NOT_FOUND: job file '.*missing\.ts' does not exist/);
    });
    test('a module that does not export a job', async () => {
      const r = await weir(['run', join(FIXTURES, 'no-export.ts')], cluster.env);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /WEIR_JOB_NO_EXPORT: .*export default defineJob/);
    });
    test('an invalid graph', async () => {
      const r = await weir(['run', join(FIXTURES, 'duplicate-uid.ts')], cluster.env);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /WEIR_GRAPH_DUPLICATE_UID: uid 'twice'/);
    });
    test('invalid flags and environment', async () => {
      const p = await weir(['run', WORDCOUNT, '-p', '0'], cluster.env);
      assert.equal(p.code, 2);
      assert.match(p.stderr, /WEIR_CONFIG_INVALID: --parallelism 0 is invalid/);
      const n = await weir(['worker'], { WEIR_NATS_URL: 'localhost:4222' });
      assert.equal(n.code, 2);
      assert.match(n.stderr, /WEIR_CONFIG_INVALID: WEIR_NATS_URL=localhost:4222 is invalid/);
    });
    test('malformed and invalid REST bodies', async () => {
      const bad = await cluster.rest('POST', '/jobs', '{"artifact": ');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'WEIR_REST_MALFORMED_JSON');
      const invalid = await cluster.rest('POST', '/jobs', { artifact: 'nope' });
      assert.equal(invalid.status, 400);
      assert.equal(invalid.body.error.code, 'WEIR_REST_INVALID_BODY');
      const unknown = await cluster.rest('GET', '/jobs/0123456789abcdef');
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error.code, 'WEIR_JOB_NOT_FOUND');
    });
    test('a deploy to a worker slot that does not exist', async () => {
      await withNats(async (nc) => {
        const t = new NatsTransport(nc, { prefix: `weir.${cluster.clusterId}.ctl` });
        const err = await t
          .ask('worker-w1', { type: 'deploy', jobId: '0123456789abcdef', attempt: 1, artifact: '0'.repeat(64), args: {}, parallelism: 1, description: {}, slot: 99, subtasks: [] }, 5000)
          .catch((e: unknown) => e);
        assert.ok(err instanceof RemoteActorError, String(err));
        assert.equal(err.code, 'WEIR_UNKNOWN_SLOT');
        assert.match(err.message, /slot 99 does not exist/);
      });
    });
    test('a job that needs more slots than the cluster has', async () => {
      const r = await weir(['run', WORDCOUNT, '-p', '3', '--arg', 'source=generator', '--arg', 'words=1000', '--arg', 'output=none'], cluster.env);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /WEIR_NOT_ENOUGH_SLOTS: job needs 3 free slots and the cluster has 2/);
    });
    test('after all of it the cluster still runs jobs', async () => {
      const ov = (await cluster.rest('GET', '/overview')).body;
      assert.equal(ov.workers, 2);
      const r = await weir(['run', WORDCOUNT, '-p', '2', '--arg', 'output=top'], cluster.env);
      assert.equal(r.code, 0, r.stderr);
    });
  });
});

const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('weir cluster up killed outright (SIGKILL)', { timeout: 60_000 }, () => {
  const cluster = new LocalCluster(1);
  before(async () => cluster.start());
  after(async () => cluster.stop());

  test('its coordinator and workers stop too instead of running on unseen', { timeout: 40_000 }, async () => {
    const pids = [(await cluster.rest<{ pid: number }>('GET', '/overview')).body.pid, ...(await cluster.workerPids())];
    assert.equal(pids.length, 2);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    assert.ok(pids.every(alive));
    cluster.killSupervisor();
    try {
      await waitFor('the children gone', () => (pids.every((pid) => !alive(pid)) ? true : undefined), 20_000, 100);
    } finally {
      for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
    }
  });
});
