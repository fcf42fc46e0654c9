/**
 * What only one SavepointStore does: the Redis store's key layout and its server-side copies and
 * one-command record step; the file store's layout and hard links. Then, against both, operations
 * on one savepoint that overlap: imports of one id, a disposal during an export.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { decodeExport } from './export-format.js';
import { FileSavepointStore } from './file-savepoint-store.js';
import { FileSnapshotStore } from './file-store.js';
import { keyGroupBlob } from './names.js';
import { RedisSavepointStore } from './redis-savepoint-store.js';
import { RedisSnapshotStore } from './redis-store.js';
import { redisJobKeys } from './redis-keys.js';
import { chainedWriteParts, newSavepointId, savepointBlobNames } from './savepoint-names.js';
import { chainReferences, fileBackend, INFO, partedSavepoint, REDIS_URL, redisBackend, RUN, savepointBlobs, stallFirstCall, statePackr, T, writeCheckpoint } from './savepoint-store-fixtures.js';
import { exportFile, onCommand, rejectsWith, scanAll, type SentCommand } from './store-testing.js';
import type { CompletedCheckpoint } from './types.js';

describe('RedisSavepointStore specifics', () => {
  let redis: Redis;
  const cluster = `${RUN}-specific`;
  before(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, connectTimeout: 2_000 });
  });
  after(async () => {
    for (const pattern of [`weir:{${cluster}:*`, `weir:{${cluster}}:*`]) {
      const keys = await scanAll(redis, pattern);
      if (keys.length > 0) await redis.unlink(keys);
    }
    await redis.quit();
  });

  test('keys follow the layout; the index scores savepoints by createdAt', T, async () => {
    const snapshots = new RedisSnapshotStore(redis, { cluster });
    const savepoints = new RedisSavepointStore(redis, { cluster }, snapshots);
    const { checkpoint } = await writeCheckpoint(snapshots, 'layout');
    const sp = await savepoints.create(checkpoint, INFO('layout'));
    const p = `weir:{${cluster}:${sp.id}}:`;
    assert.deepEqual((await scanAll(redis, `${p}*`)).sort(), [`${p}meta`, ...savepointBlobNames(sp).map((n) => `${p}blob:${n}`)].sort());
    assert.deepEqual(JSON.parse((await redis.get(`${p}meta`))!), sp);
    assert.deepEqual(await redis.zrange(`weir:{${cluster}}:savepoints`, 0, -1, 'WITHSCORES'), [sp.id, String(sp.createdAt)]);
    assert.equal(savepoints.location(sp.id), `redis://127.0.0.1:6379/0 ${p}`);
    await savepoints.dispose(sp.id);
    assert.deepEqual(await scanAll(redis, `${p}*`), []);
    assert.equal(await redis.exists(`weir:{${cluster}}:savepoints`), 0);
  });

  test('a detached savepoint with reported bytes is recorded in one command', T, async () => {
    const spied = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, connectTimeout: 2_000 });
    try {
      const snapshots = new RedisSnapshotStore(spied, { cluster });
      const savepoints = new RedisSavepointStore(spied, { cluster }, snapshots);
      const id = newSavepointId();
      await savepoints.prepare(id, 1);
      const bytes = statePackr.pack({ v: 1, value: 1 });
      await snapshots.writeSavepointBlobs(id, 1, [{ name: 'os/src/0', bytes }]);
      const sent: SentCommand[] = [];
      onCommand(spied, (c) => sent.push(c));
      const taken: CompletedCheckpoint = {
        formatVersion: 1, id: 1, jobId: 'one-step', attempt: 1, timestamp: 1, completedAt: 2, finished: [], stateBytes: 0, writtenBytes: 0,
        operators: { src: { parallelism: 1, maxParallelism: 1, keyGroups: {}, operatorState: { 0: 'os/src/0' } } },
      };
      const sp = await savepoints.complete(id, taken, INFO('one-step'), { src: bytes.byteLength });
      assert.deepEqual(sent.map((c) => c.name), ['eval']);
      assert.equal(String(sent[0]!.args[1]), '4', 'the blob keys travel in one argument, not as KEYS');
      assert.equal(String(sent[0]!.args.at(-1)), `weir:{${cluster}:${id}}:blob:os/src/0`);
      assert.equal(sp.sizeBytes, bytes.byteLength);
      await savepoints.dispose(id);
      // Its own blob gone before the record step (the blob keys travel in one argument): refused, nothing listed.
      const gone = newSavepointId();
      await savepoints.prepare(gone, 1);
      await snapshots.writeSavepointBlobs(gone, 1, [{ name: 'os/src/0', bytes }]);
      await spied.unlink(`weir:{${cluster}:${gone}}:blob:os/src/0`);
      await rejectsWith(savepoints.complete(gone, taken, INFO('one-step'), { src: bytes.byteLength }), 'WEIR_SNAPSHOT_MISSING', /blob 'os\/src\/0' of savepoint sp-[0-9a-f]+ was not written/);
      assert.equal(await savepoints.get(gone), undefined);
    } finally {
      await spied.quit();
    }
  });

  test('a detached savepoint made of chains refers to the job\'s blobs until copyReferences copies them in; any store\'s reader copies first; a referenced blob that is gone is WEIR_SNAPSHOT_MISSING', T, async () => {
    const snapshots = new RedisSnapshotStore(redis, { cluster });
    const savepoints = new RedisSavepointStore(redis, { cluster }, snapshots);
    /** A savepoint of `jobId`'s checkpoint with both key groups made of its chains, up to the record step. */
    const take = async (jobId: string, beforeRecord?: (chains: string[][]) => Promise<void>) => {
      const { checkpoint, blobs } = await writeCheckpoint(snapshots, jobId);
      const writes = [{ name: 'ks/counter/1', chain: checkpoint.operators.counter!.keyGroups[1]! }, { name: 'ks/counter/0', chain: checkpoint.operators.counter!.keyGroups[0]! }];
      const id = newSavepointId();
      await savepoints.prepare(id, 1);
      const bytes = await snapshots.writeSavepointChains(jobId, id, 1, writes);
      await beforeRecord?.(writes.map((w) => [...w.chain]));
      const taken: CompletedCheckpoint = {
        formatVersion: 1, id: 6, jobId, attempt: 1, timestamp: 1, completedAt: 2, finished: [], stateBytes: 0, writtenBytes: 0,
        operators: { counter: { parallelism: 1, maxParallelism: 8, keyGroups: { 0: ['ks/counter/0'], 1: chainedWriteParts(writes[0]!) }, operatorState: {} } },
      };
      const expected = new Map(writes.flatMap((w) => w.chain.map((n, i): [string, Buffer] => [chainedWriteParts(w)[i]!, Buffer.from(blobs.get(n)!)])));
      return { id, expected, record: () => savepoints.complete(id, taken, INFO(jobId), { counter: bytes }, chainReferences(jobId, writes)) };
    };
    const p = (id: string) => `weir:{${cluster}:${id}}:`;

    const a = await take('refs-a');
    const sp = await a.record();
    assert.equal(sp.sizeBytes, [...a.expected.values()].reduce((n, b) => n + b.length, 0), 'the referenced blobs count');
    assert.equal(await redis.exists(`${p(a.id)}blob:ks/counter/1/1`), 0, 'not copied by the record step');
    assert.equal(await redis.exists(`${p(a.id)}references`), 1);
    // Another store instance (a coordinator that took over) reads it: the copy is made first.
    const other = new RedisSavepointStore(redis, { cluster }, snapshots);
    const read = await savepointBlobs(other, a.id);
    for (const [n, b] of a.expected) assert.ok(read.get(n)!.equals(b), n);
    assert.equal(await redis.exists(`${p(a.id)}references`), 0, 'self-contained now');
    await savepoints.copyReferences(a.id); // idempotent
    await snapshots.deleteJob('refs-a');
    const after = await savepointBlobs(savepoints, a.id);
    for (const [n, b] of a.expected) assert.ok(after.get(n)!.equals(b), `${n} after the job is gone`);
    await savepoints.dispose(a.id);

    // The job's blobs deleted before the copy (what JobCheckpoints' pins prevent): the copy cannot be made.
    const b = await take('refs-b');
    await b.record();
    await snapshots.deleteJob('refs-b');
    await rejectsWith(savepoints.copyReferences(b.id), 'WEIR_SNAPSHOT_MISSING', /of job refs-b is missing/);
    await rejectsWith(savepoints.readBlobs(b.id, ['ks/counter/0']), 'WEIR_SNAPSHOT_MISSING');
    await savepoints.dispose(b.id);
    assert.deepEqual(await scanAll(redis, `${p(b.id)}*`), [], 'disposed, references and all');

    // References that do not read: WEIR_SNAPSHOT_CORRUPT, which no later try would mend.
    const e = await take('refs-e');
    await e.record();
    await redis.set(`${p(e.id)}references`, '{"jobId":"refs-e","copies":[["only-one"]]}');
    await rejectsWith(savepoints.copyReferences(e.id), 'WEIR_SNAPSHOT_CORRUPT', /does not read/);
    await redis.set(`${p(e.id)}references`, 'not json');
    await rejectsWith(savepoints.copyReferences(e.id), 'WEIR_SNAPSHOT_CORRUPT');
    await savepoints.dispose(e.id);
    await snapshots.deleteJob('refs-e');

    // Disposed before its copy: a copy asked for afterwards makes nothing.
    const d = await take('refs-d');
    await d.record();
    await savepoints.dispose(d.id);
    await savepoints.copyReferences(d.id);
    assert.deepEqual(await scanAll(redis, `${p(d.id)}*`), [], 'no part made again');
    await snapshots.deleteJob('refs-d');

    // A chain blob gone before the record step: refused, nothing listed.
    let deleted = '';
    const c = await take('refs-c', async (chains) => {
      deleted = chains[0]![1]!;
      await redis.unlink(redisJobKeys(cluster, 'refs-c').blob(deleted));
    });
    await rejectsWith(c.record(), 'WEIR_SNAPSHOT_MISSING', new RegExp(`blob '${deleted}' of job refs-c, which savepoint .* is made of, is missing`));
    assert.equal(await savepoints.get(c.id), undefined);
    assert.deepEqual(await scanAll(redis, `${p(c.id)}*`), []);
    await snapshots.deleteJob('refs-c');
  });

  test('the parts are copied in by one script after the other, each stopping after about 512 KiB, so Redis serves other clients in between; a disposal between two of them stops the copy', T, async () => {
    const snapshots = new RedisSnapshotStore(redis, { cluster });
    const savepoints = new RedisSavepointStore(redis, { cluster }, snapshots);
    // 8 key groups of one 300 kB base each (2.4 MB): two blobs pass 512 KiB, so 4 scripts.
    const take = async (jobId: string) => {
      const blobs = Array.from({ length: 8 }, (_, g) => ({ name: keyGroupBlob('counter', g, 1, 5, 'base'), bytes: statePackr.pack({ v: 1, base: true, flat: [`k${g}`, { pad: Buffer.alloc(300_000, g) }] }) }));
      await snapshots.fence(jobId, 1);
      await snapshots.writeBlobs(jobId, 1, blobs);
      const writes = blobs.map((b, g) => ({ name: `ks/counter/${g}`, chain: [b.name] }));
      const id = newSavepointId();
      await savepoints.prepare(id, 1);
      const bytes = await snapshots.writeSavepointChains(jobId, id, 1, writes);
      const taken: CompletedCheckpoint = {
        formatVersion: 1, id: 6, jobId, attempt: 1, timestamp: 1, completedAt: 2, finished: [], stateBytes: 0, writtenBytes: 0,
        operators: { counter: { parallelism: 1, maxParallelism: 8, keyGroups: Object.fromEntries(writes.map((w, g) => [g, [w.name]])), operatorState: {} } },
      };
      await savepoints.complete(id, taken, INFO(jobId), { counter: bytes }, chainReferences(jobId, writes));
      return { id, blobs };
    };
    /** The copy scripts sent from now on: the number of pairs each carried. */
    const copies: number[] = [];
    const spied = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, connectTimeout: 2_000 });
    try {
      onCommand(spied, (c: SentCommand) => {
        const script = c.args[0];
        if (c.name === 'eval' && typeof script === 'string' && script.includes("'COPY'")) copies.push((Number(c.args[1]) - 1) / 2);
      });
      const copier = new RedisSavepointStore(spied, { cluster }, new RedisSnapshotStore(spied, { cluster }));
      const a = await take('copy-a');
      await copier.copyReferences(a.id);
      // Each script starts where the one before stopped: 8 pairs, then 6, 4, 2.
      assert.deepEqual(copies, [8, 6, 4, 2]);
      const read = await savepointBlobs(savepoints, a.id);
      a.blobs.forEach((b, g) => assert.ok(read.get(`ks/counter/${g}`)!.equals(Buffer.from(b.bytes)), `part ${g}`));
      assert.equal(await redis.exists(`weir:{${cluster}:${a.id}}:references`), 0, 'self-contained once every part is there');
      await savepoints.dispose(a.id);
      await snapshots.deleteJob('copy-a');

      // Disposed after the first script: the next one finds no references and makes nothing.
      const b = await take('copy-b');
      copies.length = 0;
      const stall = stallFirstCall(spied, 'eval', true);
      const copy = copier.copyReferences(b.id);
      try {
        await stall.entered;
        await savepoints.dispose(b.id);
      } finally {
        stall.release();
        await copy;
      }
      assert.deepEqual(copies, [8, 6], 'one script copied, the next found the savepoint disposed');
      assert.deepEqual(await scanAll(redis, `weir:{${cluster}:${b.id}}:*`), [], 'nothing of it is left');
      await snapshots.deleteJob('copy-b');
    } finally {
      await spied.quit();
    }
  });

  test('create and materialize of one-blob chains copy on the server: no state bytes cross the network', T, async () => {
    const spied = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, connectTimeout: 2_000 });
    try {
      const snapshots = new RedisSnapshotStore(spied, { cluster });
      const savepoints = new RedisSavepointStore(spied, { cluster }, snapshots);
      const { checkpoint } = await writeCheckpoint(snapshots, 'copy', false);
      const sent: SentCommand[] = [];
      onCommand(spied, (c) => sent.push(c));
      const sp = await savepoints.create(checkpoint, INFO('copy'));
      await snapshots.fence('copy-restored', 1);
      await savepoints.materialize(sp.id, { jobId: 'copy-restored', attempt: 1, uids: ['counter', 'src', 'sink'], withoutOperatorState: [] });
      assert.equal(sent.filter((c) => c.name === 'copy').length, 2 * savepointBlobNames(sp).length);
      // Blob keys are only ever copied (and measured), never read or written by the client.
      const touching = sent.filter((c) => c.args.some((a) => String(a).includes(':blob:')));
      assert.deepEqual([...new Set(touching.map((c) => c.name))].sort(), ['copy', 'strlen']);
    } finally {
      await spied.quit();
    }
  });
  test('an import that overlaps another of the same id fails WEIR_SAVEPOINT_EXISTS: the one listed meanwhile, and compacted since, is left as it is', T, async () => {
    const source = `${cluster}-src`;
    const srcSnapshots = new RedisSnapshotStore(redis, { cluster: source });
    const srcSavepoints = new RedisSavepointStore(redis, { cluster: source }, srcSnapshots);
    const file = await exportFile(srcSavepoints, (await partedSavepoint({ snapshots: srcSnapshots, savepoints: srcSavepoints }, 'overlap')).id);
    await redis.unlink(...(await scanAll(redis, `weir:{${source}*`)));
    const snapshots = new RedisSnapshotStore(redis, { cluster });
    const fast = new RedisSavepointStore(redis, { cluster }, snapshots);
    // Another coordinator's import of the same file: its checks pass, then its blob writes (a large file) come late.
    const slow = new RedisSavepointStore(redis, { cluster }, snapshots);
    const stalled = stallFirstCall(slow, 'writeBlobs');
    const late = slow.importFile(file);
    late.catch(() => undefined);
    await stalled.entered;
    const sp = await fast.importFile(file);
    const compacted = await fast.compact(sp.id);
    assert.ok(compacted?.partsDeleted);
    const prefix = `weir:{${cluster}:${sp.id}}:`;
    const keys = (await scanAll(redis, `${prefix}*`)).sort();
    const blobs = await savepointBlobs(fast, sp.id);
    stalled.release();
    await rejectsWith(late, 'WEIR_SAVEPOINT_EXISTS', new RegExp(sp.id));
    assert.deepEqual(await fast.get(sp.id), compacted.metadata);
    assert.deepEqual(await savepointBlobs(fast, sp.id), blobs);
    assert.deepEqual((await scanAll(redis, `${prefix}*`)).sort(), keys, 'the late import leaves nothing behind');
    await fast.dispose(sp.id);
    assert.deepEqual(await scanAll(redis, `${prefix}*`), []);
  });
});

describe('FileSavepointStore specifics', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weir-savepoints-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('files follow the layout, blobs are hard links of the job files, no temporary file is left', T, async () => {
    const snapshots = new FileSnapshotStore(dir);
    const savepoints = new FileSavepointStore(dir, snapshots);
    const { checkpoint } = await writeCheckpoint(snapshots, 'layout');
    const sp = await savepoints.create(checkpoint, INFO('layout'));
    const spDir = join(dir, 'savepoints', sp.id);
    assert.equal(savepoints.location(sp.id), spDir);
    assert.deepEqual((await readdir(spDir)).sort(), ['blobs', 'meta.json']);
    assert.deepEqual((await readdir(join(spDir, 'blobs'))).sort(), savepointBlobNames(sp).map(encodeURIComponent).sort());
    const ino = async (path: string): Promise<number> => (await stat(path)).ino;
    const jobBlob = join(dir, 'layout', 'blobs', encodeURIComponent(keyGroupBlob('counter', 0, 1, 5, 'base')));
    assert.equal(await ino(join(spDir, 'blobs', encodeURIComponent('ks/counter/0'))), await ino(jobBlob));
    await snapshots.fence('layout-restored', 1);
    await savepoints.materialize(sp.id, { jobId: 'layout-restored', attempt: 1, uids: ['counter'], withoutOperatorState: [] });
    const restoredBlob = join(dir, 'layout-restored', 'blobs', encodeURIComponent(keyGroupBlob('counter', 0, 0, 5, 'base')));
    assert.equal(await ino(restoredBlob), await ino(jobBlob));
    // Merged chains are new files.
    assert.notEqual(await ino(join(spDir, 'blobs', encodeURIComponent('ks/counter/1'))), await ino(join(dir, 'layout', 'blobs', encodeURIComponent(keyGroupBlob('counter', 1, 1, 3, 'base')))));
  });
  test('an import that overlaps another of the same id fails WEIR_SAVEPOINT_EXISTS: the one listed meanwhile, and compacted since, is left as it is', T, async () => {
    const srcDir = join(dir, 'overlap-src');
    const srcSnapshots = new FileSnapshotStore(srcDir);
    const srcSavepoints = new FileSavepointStore(srcDir, srcSnapshots);
    const file = await exportFile(srcSavepoints, (await partedSavepoint({ snapshots: srcSnapshots, savepoints: srcSavepoints }, 'overlap')).id);
    const here = join(dir, 'overlap');
    const snapshots = new FileSnapshotStore(here);
    const fast = new FileSavepointStore(here, snapshots);
    // Another import of the same file: it has found no savepoint of that id, then its writes come late.
    const slow = new FileSavepointStore(here, snapshots);
    const stalled = stallFirstCall(slow, 'get', true);
    const late = slow.importFile(file);
    late.catch(() => undefined);
    await stalled.entered;
    const sp = await fast.importFile(file);
    const compacted = await fast.compact(sp.id);
    assert.ok(compacted?.partsDeleted);
    const files = async (): Promise<string[]> => (await readdir(join(here, 'savepoints'), { recursive: true })).sort();
    const before = await files();
    const blobs = await savepointBlobs(fast, sp.id);
    stalled.release();
    await rejectsWith(late, 'WEIR_SAVEPOINT_EXISTS', new RegExp(sp.id));
    assert.deepEqual(await fast.get(sp.id), compacted.metadata);
    assert.deepEqual(await savepointBlobs(fast, sp.id), blobs);
    assert.deepEqual(await files(), before, 'the late import leaves nothing behind');
  });

  test('an import deletes what imports left that never finished over 6 hours ago, and nothing newer', T, async () => {
    const here = join(dir, 'stale');
    const snapshots = new FileSnapshotStore(here);
    const savepoints = new FileSavepointStore(here, snapshots);
    const { checkpoint } = await writeCheckpoint(snapshots, 'stale');
    const sp = await savepoints.create(checkpoint, INFO('stale'));
    const file = await exportFile(savepoints, sp.id);
    await savepoints.dispose(sp.id);
    const root = join(here, 'savepoints');
    const stale = join(root, `.import-${sp.id}-000000000000`);
    const recent = join(root, `.import-${sp.id}-111111111111`);
    for (const d of [stale, recent]) await mkdir(join(d, 'blobs'), { recursive: true });
    const longAgo = new Date(Date.now() - 7 * 3_600_000);
    await utimes(stale, longAgo, longAgo);
    await savepoints.importFile(file);
    assert.deepEqual((await readdir(root)).sort(), [`.import-${sp.id}-111111111111`, sp.id]);
  });
});

for (const backend of [redisBackend(), fileBackend()]) {
  describe(`${backend.name} (operations on one savepoint at once)`, () => {
    before(() => backend.before());
    after(() => backend.after());

    test('imports of one file at once: exactly one succeeds, the others get WEIR_SAVEPOINT_EXISTS and leave nothing behind', T, async () => {
      const here = await backend.fresh();
      const there = await backend.fresh(true);
      const sp = await partedSavepoint(here, 'at-once');
      const file = await exportFile(here.savepoints, sp.id);
      const blobs = await savepointBlobs(here.savepoints, sp.id);
      for (let round = 0; round < 8; round++) {
        const results = await Promise.allSettled([0, 1, 2, 3].map(async (i) => {
          await sleep(i * (round % 4));
          return there.savepoints.importFile(file);
        }));
        const won = results.filter((r) => r.status === 'fulfilled');
        assert.equal(won.length, 1, `round ${round}: ${results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'ok')).join('; ')}`);
        for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { code?: string }).code, 'WEIR_SAVEPOINT_EXISTS', (r.reason as Error).message);
        assert.deepEqual((await there.savepoints.list()).map((m) => m.id), [sp.id]);
        assert.deepEqual(await savepointBlobs(there.savepoints, sp.id), blobs);
        await there.savepoints.dispose(sp.id);
        assert.deepEqual(await there.stored(), [], `round ${round}: nothing is left once it is disposed`);
      }
    });

    test('a disposal waits until an export that is reading the savepoint is done', T, async () => {
      const { snapshots, savepoints, stored } = await backend.fresh();
      const { checkpoint } = await writeCheckpoint(snapshots, 'export-dispose');
      const sp = await savepoints.create(checkpoint, INFO('export-dispose'));
      const stream = (await savepoints.exportStream(sp.id))[Symbol.asyncIterator]();
      const pieces: Uint8Array[] = [(await stream.next()).value as Uint8Array]; // the header: no blob read yet
      let disposed = false;
      const disposal = savepoints.dispose(sp.id).then(() => (disposed = true));
      await sleep(300);
      assert.equal(disposed, false, 'the disposal waits for the export');
      for (let r = await stream.next(); !r.done; r = await stream.next()) pieces.push(r.value);
      assert.equal(decodeExport(Buffer.concat(pieces)).blobs.length, savepointBlobNames(sp).length);
      await disposal;
      assert.equal(await savepoints.get(sp.id), undefined);
      assert.deepEqual(await stored(), []);
    });

    test('a disposal waits for readers only so long: then the savepoint goes, and the export breaks off', T, async () => {
      const { snapshots, savepoints, stored } = await backend.fresh(false, { disposeWaitMs: 200 });
      const { checkpoint } = await writeCheckpoint(snapshots, 'stalled-export');
      const sp = await savepoints.create(checkpoint, INFO('stalled-export'));
      const stream = (await savepoints.exportStream(sp.id))[Symbol.asyncIterator]();
      await stream.next(); // and its reader never asks for more
      const started = Date.now();
      await savepoints.dispose(sp.id);
      assert.ok(Date.now() - started >= 150, `disposed after ${Date.now() - started} ms`);
      assert.deepEqual(await stored(), []);
      const rest = async (): Promise<void> => {
        for (let r = await stream.next(); !r.done; r = await stream.next());
      };
      await assert.rejects(rest(), (e: { code?: string }) => e.code === 'WEIR_SAVEPOINT_NOT_FOUND' || e.code === 'WEIR_SNAPSHOT_MISSING');
    });
  });
}
