import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { ProcessCluster, REDIS_URL, uniqueId, waitFor, watchTaskStates, weir } from './harness.js';
import { assertExact, publishKeys, publishMore, readHash } from './keys.js';
import { addAll, everyKey, FINISHED_SHARES, hgetall, REDIS_DB1, run, SavepointKit, SPIN, V1, V2, waitForCheckpoint, waitForHash } from './savepoint-kit.js';

describe('savepoints: stop, resume, rescale, upgrade, A/B, migrate (real processes, real NATS and Redis)', { timeout: 900_000 }, () => {
  const cluster = new ProcessCluster(['--heartbeat-timeout', '3000']);
  const clusters: ProcessCluster[] = [cluster];
  const kit = new SavepointKit(clusters);
  const { tmp, names } = kit;

  before(async () => {
    await cluster.start([]);
    for (const id of ['w1', 'w2', 'w3']) cluster.startWorker(id, {}, 2);
    await cluster.waitForWorkers(3);
  });
  after(kit.cleanup);

  async function stopWithSavepoint(c: ProcessCluster, jobId: string, drain = false): Promise<string> {
    const r = await weir(['stop', jobId, '--savepoint', ...(drain ? ['--drain'] : [])], c.env);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    assert.match(id, /^sp-[0-9a-f]{16}$/);
    const v = await c.job(jobId);
    assert.equal(v.state, 'FINISHED');
    assert.equal(v.lastSavepoint, id);
    return id;
  }

  let sharedSavepoint = '';

  test('stop-with-savepoint at parallelism 2, resume at 3 and at 1, then a REST rescale to 2: every count exact', { timeout: 400_000 }, async () => {
    const { stream, subject, hash } = names('rescale');
    let expected = await publishKeys(stream, subject, 300_000);
    const args = { stream, hash, spin: SPIN };

    const job1 = await run(cluster, V1, 2, args);
    await waitFor('some keys counted', async () => ((await readHash(hash)).size > 0 ? true : undefined), 60_000, 50);
    const sp1 = await stopWithSavepoint(cluster, job1);
    const done1 = [...(await readHash(hash)).values()].reduce((a, b) => a + b, 0);
    assert.ok(done1 < 300_000, `the stop came while the job was still reading (${done1} of 300000 counted)`);

    const watch = await watchTaskStates(cluster.clusterId);
    const job2 = await run(cluster, V1, 3, args, ['--from-savepoint', sp1]);
    const v2 = await cluster.job(job2);
    assert.equal(v2.fromSavepoint, sp1);
    assert.ok(v2.vertices.every((x: { parallelism: number }) => x.parallelism === 3));
    await waitForCheckpoint(cluster, job2);
    // Each subtask reports INITIALIZING (connectors opened, state restored) before it runs.
    const states = watch.states(job2);
    await watch.stop();
    assert.ok(states.size >= 3, `task states of every subtask: ${JSON.stringify([...states])}`);
    for (const [subtask, seq] of states) assert.deepEqual(seq.slice(0, 2), ['INITIALIZING', 'RUNNING'], `subtask ${subtask}: ${seq.join(' -> ')}`);
    assert.equal((await cluster.job(job2)).vertices.find((x: { uid: string }) => x.uid === 'count')?.status, 'RUNNING');
    const sp2 = await stopWithSavepoint(cluster, job2);

    const job3 = await run(cluster, V1, 1, args, ['--from-savepoint', sp2]);
    const more = everyKey();
    await publishMore(stream, subject, more, 300_000 + more.length);
    expected = addAll(expected, more);
    await waitForCheckpoint(cluster, job3);
    const r = await weir(['rescale', job3, '2'], cluster.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /runs at parallelism 2 \(was 1\), restored from savepoint sp-[0-9a-f]{16}/);
    const v3 = await cluster.job(job3);
    assert.equal(v3.state, 'RUNNING');
    assert.equal(v3.restarts, 0, 'a rescale is not a restart');
    assert.ok(v3.vertices.every((x: { parallelism: number }) => x.parallelism === 2));
    await waitForHash(hash, expected);
    const stop = await weir(['stop', job3], cluster.env);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal((await cluster.job(job3)).state, 'FINISHED');
    assertExact(await readHash(hash), expected);

    const list = await weir(['savepoints', '--job', 'sp-count', '--json'], cluster.env);
    assert.equal(list.code, 0, list.stderr);
    const sps = JSON.parse(list.stdout) as { id: string; reason: string; sizeBytes: number; ageMs: number }[];
    for (const id of [sp1, sp2]) assert.ok(sps.some((s) => s.id === id && s.reason === 'stop' && s.sizeBytes > 0 && s.ageMs >= 0), `${id} listed`);
    assert.ok(sps.some((s) => s.reason === 'rescale'), 'the rescale savepoint is kept');
    // Inspect through the coordinator: only the blobs of the operator asked for are read.
    const inspect = await weir(['inspect', sp2, '--operator', 'count', '--state', 'sum', '--limit', '2'], cluster.env);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.match(inspect.stdout, new RegExp(`savepoint ${sp2}: job sp-count@1`));
    assert.match(inspect.stdout, /count\s+keyed actor\s+3\s+128\s+128/);
    // Reading stopped once the sample was full: the keys counted are those of the key groups read.
    assert.match(inspect.stdout, /count: \d+ keys in the first \d+ of 128 key groups \(--count for all\); sample:\n\s+group \d+\s+"k\d+" => \d+\n\s+group \d+\s+"k\d+" => \d+\n?$/);
    assert.equal((await cluster.rest('GET', `/savepoints/${sp2}/inspect?operator=nope`)).body.error.code, 'WEIR_SAVEPOINT_OPERATOR_NOT_FOUND');
    assert.equal((await cluster.rest('GET', `/savepoints/${sp2}/inspect?limit=0`)).status, 400);
    const table = await weir(['savepoints'], cluster.env);
    assert.match(table.stdout, new RegExp(`${sp1}\\s+sp-count\\s+1\\s+stop`));
    sharedSavepoint = sp1;
  });

  test("upgrade and A/B: version 2 (a new filter, a new output format) and version 1 resume side by side from one savepoint of version 1", { timeout: 300_000 }, async () => {
    const { stream, subject, hash } = names('ab');
    const hashA = `${hash}:a`;
    const hashB = `${hash}:b`;
    kit.track(REDIS_URL, hashA);
    kit.track(REDIS_URL, hashB);
    const first = await publishKeys(stream, subject, 30_000);
    const job = await run(cluster, V1, 2, { stream, hash });
    await waitForHash(hash, first);
    // The sink upserts as records come: wait for a checkpoint that holds the first batch.
    const firstIn = Date.now();
    await waitFor('a checkpoint after the first batch', async () =>
      ((await cluster.rest('GET', `/jobs/${job}/checkpoints`)).body.history as { status: string; triggerTimestamp: number }[]).some((h) => h.status === 'COMPLETED' && h.triggerTimestamp > firstIn) ? true : undefined,
    );
    // A few keys again (spread over the key groups), once the first batch is in a checkpoint: a key
    // group's chain is then a base and a small delta, so the savepoint below has key groups of
    // several parts, compacted later.
    const second = Array.from({ length: 200 }, (_, i) => `k${i * 25}`);
    await publishMore(stream, subject, second, 30_000 + second.length);
    const before = addAll(first, second);
    await waitForHash(hash, before);
    // A savepoint of the running job: it keeps running.
    const manual = await weir(['savepoint', job], cluster.env);
    assert.equal(manual.code, 0, manual.stderr);
    const manualId = manual.stdout.trim();
    assert.equal((await cluster.job(job)).state, 'RUNNING');
    const meta = (await cluster.rest('GET', `/savepoints/${manualId}`)).body;
    assert.equal(meta.reason, 'manual');
    assert.equal(meta.jobVersion, '1');
    assert.deepEqual(Object.keys(meta.operators).sort(), ['count', 'keys', 'slow', 'upsert']);
    assert.equal(meta.operators.count.parallelism, 2);
    assert.equal(meta.operators.count.maxParallelism, 128);
    assert.ok(meta.sizeBytes > 0 && meta.formatVersion === 2 && meta.createdAt > 0); // the current savepoint format (SAVEPOINT_FORMAT_VERSION)
    // Its key groups may be several parts each (the job's chain plus a tail): inspect sees every key once.
    const inspected = await weir(['inspect', manualId, '--operator', 'count', '--limit', '1', '--count'], cluster.env);
    assert.equal(inspected.code, 0, inspected.stderr);
    assert.match(inspected.stdout, new RegExp(`count: ${before.size} keys; sample:`));
    const history = (await cluster.rest('GET', `/jobs/${job}/checkpoints`)).body.history as { isSavepoint: boolean; status: string }[];
    assert.ok(history.some((h) => h.isSavepoint && h.status === 'COMPLETED'), 'the savepoint shows in the checkpoint history');
    // Taken while the job ran, its key groups are the job's chains plus a tail; the coordinator folds
    // them into one full base each in the background. Both jobs below resume from the folded savepoint.
    assert.ok(meta.operators.count.keyGroupParts, 'key groups of several parts');
    const compacted = await waitFor('the savepoint compacted', async () => {
      const m = (await cluster.rest('GET', `/savepoints/${manualId}`)).body;
      return m.compactedAt ? m : undefined;
    });
    assert.equal(compacted.operators.count.keyGroupParts, undefined);
    assert.ok(compacted.sizeBytes < meta.sizeBytes, `${compacted.sizeBytes} < ${meta.sizeBytes}`);
    const reinspected = await weir(['inspect', manualId, '--operator', 'count', '--limit', '1', '--count'], cluster.env);
    assert.equal(reinspected.code, 0, reinspected.stderr);
    assert.match(reinspected.stdout, /, compacted \d{4}-\d\d-\d\dT/);
    assert.match(reinspected.stdout, new RegExp(`count: ${before.size} keys; sample:`), 'the same keys once compacted');
    const sp = await stopWithSavepoint(cluster, job, true);

    const more = everyKey(Array.from({ length: 100 }, () => 'drop-me'));
    await publishMore(stream, subject, more, 30_000 + second.length + more.length);
    // Checked before anything starts: how version 2's operators take version 1's state.
    const dry = await weir(['run', V2, '-p', '2', '--arg', `stream=${stream}`, '--arg', `hash=${hashB}`, '--from-savepoint', sp, '--dry-run'], cluster.env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /sp-count@2 can start from savepoint sp-[0-9a-f]{16} \(sp-count@1\)/);
    assert.match(dry.stdout, /restored:\s+keys, count, upsert/);
    assert.match(dry.stdout, /start empty:\s+drop/);
    assert.match(dry.stdout, /dropped:\s+-/);
    // Both start from the savepoint taken while version 1 ran on (a detached one): it holds every
    // record of `before`, as the stop's does.
    const jobA = await run(cluster, V1, 1, { stream, hash: hashA }, ['--from-savepoint', manualId]);
    const jobB = await run(cluster, V2, 2, { stream, hash: hashB }, ['--from-savepoint', manualId]);
    const expectedA = addAll(before, more);
    const expectedB = new Map([...addAll(before, more.filter((k) => k !== 'drop-me'))].map(([k, n]) => [k, `v2:${n}`]));
    await waitForHash(hashA, expectedA);
    await waitForHash(hashB, expectedB);
    const vB = await cluster.job(jobB);
    assert.equal(vB.version, '2');
    assert.ok(vB.vertices.some((x: { uid: string }) => x.uid === 'drop'), 'version 2 runs its new filter');
    for (const j of [jobA, jobB]) assert.equal((await weir(['stop', j], cluster.env)).code, 0);
    // Neither touched the other's output, nor the original job's.
    assertExact(await readHash(hashA), expectedA);
    assert.deepEqual(new Map(Object.entries(await hgetall(hashB))), expectedB);
    assertExact(await readHash(hash), before);
  });

  test('parts of a job that finished before a rescale: nothing of theirs is read, counted or committed again', { timeout: 180_000 }, async () => {
    const id = uniqueId('');
    const dirs = { lines: join(tmp, `lines-${id}`), updates: join(tmp, `updates-${id}`) };
    const consumed = join(tmp, `consumed-${id}`);
    mkdirSync(consumed);
    const n = 1000;
    const job = await run(cluster, FINISHED_SHARES, 2, { ...dirs, n: String(n) });
    const bounded = ['lines', 'line-files', 'keys', 'count', 'update-files'];
    /** The bounded parts all FINISHED at `parallelism` (true), or the job is no longer RUNNING (false: the assertions say why). */
    const finishedAt = async (parallelism: number) => {
      const v = await cluster.job(job);
      if (v.state !== 'RUNNING') return false;
      const done = bounded.every((uid) => v.vertices.some((x: { uid: string; parallelism: number; status: string }) => x.uid === uid && x.parallelism === parallelism && x.status === 'FINISHED'));
      return done ? true : undefined;
    };
    assert.equal(await waitFor('the bounded parts finished', () => finishedAt(2), 60_000, 100), true);
    const after = Date.now();
    await waitFor('a checkpoint after they finished', async () =>
      ((await cluster.rest('GET', `/jobs/${job}/checkpoints`)).body.history as { status: string; triggerTimestamp: number }[]).some((h) => h.status === 'COMPLETED' && h.triggerTimestamp > after) ? true : undefined,
    30_000, 100);
    // A consumer takes the committed files away, as one would.
    const committed = (dir: string) => readdirSync(dir).filter((f) => !f.startsWith('.'));
    for (const [tag, dir] of Object.entries(dirs)) for (const f of committed(dir)) renameSync(join(dir, f), join(consumed, `${tag}-${f}`));

    const r = await weir(['rescale', job, '3'], cluster.env);
    assert.equal(r.code, 0, r.stderr);
    // At parallelism 3 the bounded parts run again from the rescale's savepoint and finish once more.
    await waitFor('the bounded parts finished again', () => finishedAt(3), 60_000, 100);
    const v = await cluster.job(job);
    // Before 2026-12-05 the finished file sinks committed their last transaction again (WEIR_SINK_FILE_LOST: the files were gone).
    assert.deepEqual((await cluster.rest('GET', `/jobs/${job}/exceptions`)).body.history, []);
    assert.equal(v.restarts, 0);
    const read = (tag: string) => [...committed(consumed).filter((f) => f.startsWith(`${tag}-`)).map((f) => join(consumed, f)), ...committed(dirs[tag as keyof typeof dirs]).map((f) => join(dirs[tag as keyof typeof dirs], f))].flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean));
    const lines = read('lines');
    assert.equal(lines.length, n, 'every line once');
    assert.equal(new Set(lines).size, n);
    // Before, the finished key source was read again from its position at the last checkpoint it
    // acknowledged, and the count emitted those updates again.
    const updates = read('updates');
    const expected = Array.from({ length: 50 }, (_, k) => Array.from({ length: n / 50 }, (_, i) => `k${k}:${i + 1}`)).flat();
    assert.deepEqual([...updates].sort(), expected.sort(), 'every count update once');
    assert.equal((await weir(['cancel', job], cluster.env)).code, 0);
  });

  test('migrate: export, import into a second cluster (another Redis database and another NATS prefix), resume: counts exact', { timeout: 300_000 }, async () => {
    const { stream, subject, hash } = names('mig', REDIS_DB1);
    const before = await publishKeys(stream, subject, 20_000);
    const firstHash = `${hash}:first`;
    kit.track(REDIS_URL, firstHash);
    const job = await run(cluster, V1, 2, { stream, hash: firstHash });
    await waitForHash(firstHash, before);
    const sp = await stopWithSavepoint(cluster, job);
    const file = join(tmp, `${sp}.weirsp`);
    const exp = await weir(['savepoint', 'export', sp, file], cluster.env);
    assert.equal(exp.code, 0, exp.stderr);

    const other = new ProcessCluster(['--heartbeat-timeout', '3000'], REDIS_DB1);
    clusters.push(other);
    await other.start(['b1']);
    const imp = await weir(['savepoint', 'import', file], other.env);
    assert.equal(imp.code, 0, imp.stderr);
    assert.equal(imp.stdout.trim(), sp, 'the savepoint keeps its id');
    const listed = JSON.parse((await weir(['savepoints', '--json'], other.env)).stdout) as { id: string }[];
    assert.deepEqual(listed.map((s) => s.id), [sp]);

    const inspect = await weir(['inspect', file, '--operator', 'count', '--limit', '3', '--count'], other.env);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.match(inspect.stdout, /count\s+keyed actor\s+2\s+128\s+128/);
    assert.match(inspect.stdout, new RegExp(`count: ${before.size} keys; sample:`));
    assert.match(inspect.stdout, /"k\d+" => \{"sum":\d+\}/);

    const more = everyKey();
    await publishMore(stream, subject, more, 20_000 + more.length);
    const resumed = await run(other, V1, 1, { stream, hash }, ['--from-savepoint', sp]);
    const expected = addAll(before, more);
    await waitForHash(hash, expected, REDIS_DB1);
    assert.equal((await weir(['stop', resumed], other.env)).code, 0);
    assertExact(await readHash(hash, REDIS_DB1), expected);
  });

  test('a coordinator that dies while taking a savepoint: the next one deletes what that savepoint left; completed savepoints stay', { timeout: 120_000 }, async () => {
    const { stream, subject, hash } = names('orphan');
    await publishKeys(stream, subject, 2000);
    const c = new ProcessCluster(['--orphan-savepoint-age', '1000']);
    clusters.push(c);
    // The second savepoint kills the coordinator once its workers have written its blobs.
    await c.start([], { WEIR_FAULT: 'before-savepoint-record:2' });
    c.startWorker('o1', {}, 2);
    await c.waitForWorkers(1);
    const jobId = await run(c, V1, 1, { stream, hash, spin: SPIN });
    await waitFor('the job running', async () => ((await c.job(jobId)).state === 'RUNNING' ? true : undefined), 30_000);
    const kept = await weir(['savepoint', jobId], c.env);
    assert.equal(kept.code, 0, kept.stderr);
    const keptId = kept.stdout.trim();
    assert.equal((await c.rest('POST', `/jobs/${jobId}/savepoints`)).status, 202);
    await c.coordinatorExited(30_000);

    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      const keysOf = async (): Promise<Map<string, string[]>> => {
        const byId = new Map<string, string[]>();
        let cursor = '0';
        for (let i = 0; i < 1000; i++) {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `weir:{${c.clusterId}:sp-*`, 'COUNT', 1000);
          for (const k of keys) {
            const id = /:(sp-[0-9a-f]{16})\}:/.exec(k)![1]!;
            byId.set(id, [...(byId.get(id) ?? []), k]);
          }
          cursor = next;
          if (cursor === '0') break;
        }
        return byId;
      };
      const before = await keysOf();
      const orphans = [...before].filter(([, keys]) => !keys.some((k) => k.endsWith('}:meta')));
      assert.equal(orphans.length, 1, `one savepoint left unrecorded: ${JSON.stringify([...before.keys()])}`);
      const [orphan, left] = orphans[0]!;
      assert.ok(left.some((k) => k.includes('}:blob:')) && left.some((k) => k.endsWith('}:pending')), `its blobs and its fence are there: ${left.join(', ')}`);

      await c.restartCoordinator();
      await waitFor('what the savepoint left deleted', async () => ((await keysOf()).has(orphan) ? undefined : true), 30_000, 250);
      // The completed one is listed and whole.
      assert.equal((await c.rest('GET', `/savepoints/${keptId}`)).status, 200);
      const file = join(tmp, 'kept.weirsp');
      const exported = await weir(['savepoint', 'export', keptId, file], c.env);
      assert.equal(exported.code, 0, exported.stderr);
      assert.ok((await keysOf()).has(keptId));
    } finally {
      redis.disconnect();
    }
  });

  test('refusals: unknown savepoint, non-restored state without the flag, corrupted export; disposal', { timeout: 120_000 }, async () => {
    assert.ok(sharedSavepoint, 'the first test left a savepoint');
    const { stream, subject, hash } = names('ref');
    await publishKeys(stream, subject, 100);
    const unknown = await weir(['run', V1, '--detach', '--arg', `stream=${stream}`, '--arg', `hash=${hash}`, '--from-savepoint', 'sp-0000000000000000'], cluster.env);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /WEIR_SAVEPOINT_NOT_FOUND/);

    // The count's uid changed: its state would be lost silently, so it is refused without the flag.
    const renamed = ['run', V1, '--detach', '--arg', `stream=${stream}`, '--arg', `hash=${hash}`, '--arg', 'countUid=count-renamed', '--from-savepoint', sharedSavepoint];
    const refused = await weir(renamed, cluster.env);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /WEIR_SAVEPOINT_NON_RESTORED_STATE.*'count'.*--allow-non-restored-state/);
    const dryRefused = await weir([...renamed, '--dry-run'], cluster.env);
    assert.equal(dryRefused.code, 2);
    assert.match(dryRefused.stderr, /WEIR_SAVEPOINT_NON_RESTORED_STATE/);
    const allowed = await weir([...renamed, '--allow-non-restored-state'], cluster.env);
    assert.equal(allowed.code, 0, allowed.stderr);
    const v = await cluster.job(allowed.stdout.trim());
    assert.equal(v.fromSavepoint, sharedSavepoint);
    // Long polls of operations: a bad waitMs is a 400, an unknown request id a 404 at once.
    assert.equal((await cluster.rest('GET', `/jobs/${v.id}/savepoints/0123456789abcdef?waitMs=600000`)).status, 400);
    assert.equal((await cluster.rest('GET', `/jobs/${v.id}/savepoints/0123456789abcdef?waitMs=-1`)).status, 400);
    const unknownOp = await cluster.rest('GET', `/jobs/${v.id}/savepoints/0123456789abcdef?waitMs=30000`);
    assert.equal(unknownOp.body.error.code, 'WEIR_OPERATION_NOT_FOUND');
    const cancel = await weir(['cancel', v.id], cluster.env);
    assert.equal(cancel.code, 0, cancel.stderr);

    const file = join(tmp, 'good.weirsp');
    assert.equal((await weir(['savepoint', 'export', sharedSavepoint, file], cluster.env)).code, 0);
    const bytes = readFileSync(file);
    const flipped = Buffer.from(bytes);
    flipped[Math.floor(bytes.length / 2)]! ^= 0xff;
    const cases = { flipped, truncated: bytes.subarray(0, bytes.length - 10), notAnExport: Buffer.from('hello') };
    for (const [what, b] of Object.entries(cases)) {
      const f = join(tmp, `${what}.weirsp`);
      writeFileSync(f, b);
      const r = await weir(['savepoint', 'import', f], cluster.env);
      assert.notEqual(r.code, 0, what);
      assert.match(r.stderr, /WEIR_SAVEPOINT_CORRUPT/, what);
      const i = await weir(['inspect', f], cluster.env);
      assert.match(i.stderr, /WEIR_SAVEPOINT_CORRUPT/, what);
    }

    const dispose = await weir(['savepoint', 'dispose', sharedSavepoint], cluster.env);
    assert.equal(dispose.code, 0, dispose.stderr);
    const gone = await weir(['run', V1, '--detach', '--arg', `stream=${stream}`, '--arg', `hash=${hash}`, '--from-savepoint', sharedSavepoint], cluster.env);
    assert.match(gone.stderr, /WEIR_SAVEPOINT_NOT_FOUND/);
    assert.equal((await cluster.rest('DELETE', `/savepoints/${sharedSavepoint}`)).status, 404);
  });
});
