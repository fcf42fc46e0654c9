import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ProcessCluster, waitFor, weir } from './harness.js';
import { publishKeys, readHash } from './keys.js';
import { CHURN, keysMatching, referencesKey, runUntilCheckpoint, SavepointKit, takeSavepoint, withRedis } from './savepoint-kit.js';

describe('savepoints under faults: lost replies, failed copies, coordinators that die (real processes, real NATS and Redis)', { timeout: 900_000 }, () => {
  /** Where the last test imports and resumes a savepoint exported from another cluster. */
  const cluster = new ProcessCluster(['--heartbeat-timeout', '3000']);
  const kit = new SavepointKit([cluster]);
  const { tmp, names, faultyCluster, faultyJob, resumeExact } = kit;

  before(async () => {
    await cluster.start([]);
    cluster.startWorker('f1', {}, 2);
    await cluster.waitForWorkers(1);
  });
  after(kit.cleanup);

  test("a savepoint of a running job refers to its checkpoints' blobs until it copied them in: checkpoints that drop them meanwhile, and the job's end, wait for the copy; resumed, every count exact", { timeout: 180_000 }, async () => {
    const { stream, subject, hash } = names('pins');
    const expected = await publishKeys(stream, subject, 100_000);
    // Every copy waits 20 s; meanwhile checkpoints every 100 ms write new bases and drop those the
    // savepoint refers to. (On a loaded machine the spinning job's barriers wait seconds behind its
    // records, so a checkpoint may take 5 s: the window is that wide.)
    const c = await faultyCluster('slow-savepoint-copy:20000', 'p1');
    const job1 = await runUntilCheckpoint(c, { stream, hash }, CHURN, '200000');
    await waitFor('some keys counted', async () => ((await readHash(hash)).size > 0 ? true : undefined), 60_000, 50);
    const completed = async () => (await c.rest('GET', `/jobs/${job1}/checkpoints`)).body.counts.completed as number;
    const id = await takeSavepoint(c, job1);
    await withRedis(async (redis) => {
      const references = referencesKey(c, id);
      assert.equal(await redis.exists(references), 1, 'COMPLETED before its copy');
      const before = await completed();
      await waitFor('checkpoints that complete while the copy waits', async () => ((await completed()) >= before + 2 ? true : undefined), 17_000, 50);
      assert.equal(await redis.exists(references), 1, 'the copy still waits');
      assert.equal((await c.job(job1)).state, 'RUNNING', 'the job still counts: its checkpoints drop bases');
      // The job ends while the copy waits: its checkpoints' data goes only after the copy.
      const cancel = await weir(['cancel', job1], c.env);
      assert.equal(cancel.code, 0, cancel.stderr);
      await waitFor('the copy made', async () => ((await redis.exists(references)) === 0 ? true : undefined), 30_000, 100);
      await waitFor('job 1 ended, its data deleted', async () => ((await c.job(job1)).state === 'CANCELED' && (await keysMatching(redis, `weir:{${c.clusterId}:${job1}}:*`)).length === 0 ? true : undefined), 30_000, 100);
      assert.doesNotMatch(c.output, /could not copy in|savepoint copy failed/);
    });
    await resumeExact(c, CHURN, 1, id, { stream, subject, hash, expected, published: 100_000 });
  });

  test("a savepoint whose copy fails while Redis is unreachable: the copy is tried again in the background, the ended job's data stays until it is made; resumed, every count exact", { timeout: 180_000 }, async () => {
    // 3 tries while the job may end, then 3 more in the background (pauses of 1, 2 and 4 s) fail.
    const { c, job1, resume } = await faultyJob('retry', 'fail-savepoint-copy:6', 'r1', 20_000);
    const id = await takeSavepoint(c, job1);
    await withRedis(async (redis) => {
      const references = referencesKey(c, id);
      const jobKeys = () => keysMatching(redis, `weir:{${c.clusterId}:${job1}}:*`);
      assert.equal((await weir(['cancel', job1], c.env)).code, 0);
      await waitFor('job 1 canceled', async () => ((await c.job(job1)).state === 'CANCELED' ? true : undefined), 30_000, 100);
      assert.equal(await redis.exists(references), 1, 'not copied yet');
      assert.ok((await jobKeys()).length > 0, "the ended job's data stays while the savepoint refers to it");
      await waitFor('the copy made in the background', async () => ((await redis.exists(references)) === 0 ? true : undefined), 60_000, 100);
      await waitFor("then the ended job's data deleted", async () => ((await jobKeys()).length === 0 ? true : undefined), 30_000, 100);
      assert.match(c.output, /trying again/);
    });
    await resume(c, 1, id);
  });

  test('a savepoint whose record step ran but whose reply was lost: nothing is deleted, the request answers COMPLETED once the savepoint is found; resumed, every count exact', { timeout: 180_000 }, async () => {
    const { c, job1, resume } = await faultyJob('lost', 'lose-savepoint-record-reply:1', 'l1', 20_000);
    const id = await takeSavepoint(c, job1);
    assert.match(c.output, /recorded after all/);
    await withRedis(async (redis) => {
      await waitFor('the copy made', async () => ((await redis.exists(referencesKey(c, id))) === 0 ? true : undefined), 30_000, 100);
    });
    assert.equal((await weir(['cancel', job1], c.env)).code, 0);
    await resume(c, 1, id);
  });

  test("a savepoint whose marker was set but whose reply was lost: it fails with that cause, leaves nothing, and the job runs on; the next one resumes exact", { timeout: 180_000 }, async () => {
    const { c, job1, resume } = await faultyJob('prep', 'lose-savepoint-prepare-reply:1', 'm1', 20_000);
    const failed = await weir(['savepoint', job1], c.env);
    assert.notEqual(failed.code, 0, 'the savepoint fails');
    assert.match(failed.stderr, /WEIR_SNAPSHOT_STORE_UNAVAILABLE[\s\S]*prepare step of savepoint sp-[0-9a-f]{16} was lost/);
    const lost = /prepare step of savepoint (sp-[0-9a-f]{16})/.exec(failed.stderr)![1]!;
    await withRedis(async (redis) => {
      // Abandoned: its marker is deleted again, and no worker was asked to write.
      await waitFor('nothing left of it', async () => ((await keysMatching(redis, `weir:{${c.clusterId}:${lost}}:*`)).length === 0 ? true : undefined), 30_000, 100);
      assert.equal(await redis.zscore(`weir:{${c.clusterId}}:savepoints`, lost), null, 'never listed');
    });
    assert.equal((await c.rest('GET', `/savepoints/${lost}`)).status, 404);
    assert.equal((await c.job(job1)).state, 'RUNNING');
    const id = await takeSavepoint(c, job1);
    assert.equal((await weir(['cancel', job1], c.env)).code, 0);
    await resume(c, 1, id);
  });

  test('a coordinator that dies after recording a savepoint, before copying in what it refers to: the next one copies it as it starts; exported and resumed elsewhere, every count exact', { timeout: 180_000 }, async () => {
    const { c, job1, resume } = await faultyJob('copycrash', 'before-savepoint-copy:1', 'q1', 20_000);
    assert.equal((await c.rest('POST', `/jobs/${job1}/savepoints`)).status, 202);
    await c.coordinatorExited(30_000);
    const id = await withRedis(async (redis) => {
      const listed = await redis.zrange(`weir:{${c.clusterId}}:savepoints`, 0, -1);
      assert.equal(listed.length, 1, 'recorded before the coordinator died');
      const recorded = listed[0]!;
      const references = referencesKey(c, recorded);
      assert.equal(await redis.exists(references), 1, 'not copied yet');
      await c.restartCoordinator();
      // No one reads it: the coordinator copies it as it starts.
      await waitFor('the copy made', async () => ((await redis.exists(references)) === 0 ? true : undefined), 30_000, 100);
      return recorded;
    });
    const file = join(tmp, 'copied.weirsp');
    const exported = await weir(['savepoint', 'export', id, file], c.env);
    assert.equal(exported.code, 0, exported.stderr);
    const imported = await weir(['savepoint', 'import', file], cluster.env);
    assert.equal(imported.code, 0, imported.stderr);
    await resume(cluster, 2, id);
  });

});
