/**
 * Compaction of detached savepoints against every SavepointStore (savepoint-store-fixtures.ts):
 * key groups of several parts are folded into one full base; the savepoint holds the same state
 * before, during (for an export already running) and after, and after an interrupted compaction.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { applyKeyedBlob, readKeyedBlob } from '../state/keyed-blob.js';
import { decodeExport } from './export-format.js';
import { compactSavepoint, type CompactionStorage } from './savepoint-compaction.js';
import { savepointBlobNames, savepointKeyGroupParts } from './savepoint-names.js';
import { redisSavepointKeys } from './savepoint-redis-keys.js';
import { fileBackend, G1, partedSavepoint, REDIS_URL, redisBackend, savepointBlobs, T } from './savepoint-store-fixtures.js';
import type { SavepointMetadata } from './savepoint-types.js';
import { SavepointUsers } from './savepoint-users.js';
import { exportFile } from './store-testing.js';

/** Key group `g` of `counter` as a restore rebuilds it from `blobs`, following `metadata`'s parts. */
function rowsOf(metadata: SavepointMetadata, blobs: ReadonlyMap<string, Uint8Array>, g: number): unknown[] {
  const rows = new Map<string, unknown>();
  savepointKeyGroupParts(metadata.operators.counter!, g).forEach((n, i) => applyKeyedBlob(readKeyedBlob(blobs.get(n)!, n, i === 0), rows));
  return [...rows];
}

for (const backend of [redisBackend(), fileBackend()]) {
  describe(`${backend.name} (compaction)`, () => {
    before(() => backend.before());
    after(() => backend.after());

    test('compact folds a key group of parts into one full base: same state, fewer bytes, the old parts gone; export, import and restore read it as one blob', T, async () => {
      const side = await backend.fresh();
      const { savepoints, snapshots, stored } = side;
      const sp = await partedSavepoint(side, 'job-compact');
      const before = await savepointBlobs(savepoints, sp.id);
      assert.deepEqual(rowsOf(sp, before, 1), G1);

      const done = await savepoints.compact(sp.id);
      assert.ok(done);
      assert.equal(done.keyGroups, 1);
      assert.equal(done.partsDeleted, true);
      assert.equal(done.bytesBefore, sp.sizeBytes);
      const meta = (await savepoints.get(sp.id))!;
      assert.deepEqual(meta, done.metadata);
      assert.equal(meta.operators.counter!.keyGroupParts, undefined);
      assert.equal(typeof meta.compactedAt, 'number');
      const after = await savepointBlobs(savepoints, sp.id);
      assert.deepEqual([...after.keys()].sort(), ['ks/counter/0', 'ks/counter/1']);
      assert.equal(meta.sizeBytes, [...after.values()].reduce((n, b) => n + b.length, 0), 'sizes are the blobs held');
      assert.ok(meta.sizeBytes < sp.sizeBytes, `${meta.sizeBytes} < ${sp.sizeBytes}`);
      assert.deepEqual(rowsOf(meta, after, 1), G1);
      assert.ok(after.get('ks/counter/0')!.equals(before.get('ks/counter/0')!), 'a key group of one part is left as it was');
      assert.deepEqual((await stored()).filter((k) => k.includes('counter%2F1%2F') || k.includes('ks/counter/1/')), [], 'no old part is left');
      assert.equal(await savepoints.compact(sp.id), undefined, 'nothing left to fold');

      // Restored, key group 1 is one base; exported and imported elsewhere, the same.
      await snapshots.fence('from-compacted', 1);
      const cp = await savepoints.materialize(sp.id, { jobId: 'from-compacted', attempt: 1, uids: ['counter'], withoutOperatorState: [] });
      assert.equal(cp.operators.counter!.keyGroups[1]!.length, 1);
      await snapshots.deleteJob('from-compacted');
      const exported = await exportFile(savepoints, sp.id);
      assert.deepEqual(decodeExport(exported).metadata, meta);
      const there = await backend.fresh(true);
      const imported = await there.savepoints.importFile(exported);
      assert.deepEqual(rowsOf(imported, await savepointBlobs(there.savepoints, sp.id), 1), G1);
      await there.savepoints.dispose(sp.id);
      await savepoints.dispose(sp.id);
      assert.deepEqual((await stored()).filter((k) => k.includes(sp.id)), []);
    });

    test('an export that started before the compaction reads the same state; the old parts go only after it ended', T, async () => {
      const side = await backend.fresh();
      const { savepoints, stored } = side;
      const sp = await partedSavepoint(side, 'job-export-during');
      const pieces = (await savepoints.exportStream(sp.id))[Symbol.asyncIterator]();
      const read: Uint8Array[] = [];
      const first = await pieces.next(); // the header, with the metadata of 4 parts: the stream is now a reader
      assert.equal(first.done, false);
      read.push(first.value as Uint8Array);
      let compacted = false;
      const compaction = savepoints.compact(sp.id).then((r) => ((compacted = true), r));
      // Steps 1-3 run; step 4 waits for the export.
      for (let i = 0; i < 200 && (await savepoints.get(sp.id))!.compactedAt === undefined; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(typeof (await savepoints.get(sp.id))!.compactedAt, 'number', 'the metadata was replaced');
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(compacted, false, 'the old parts are kept while the export reads');
      for (let next = await pieces.next(); !next.done; next = await pieces.next()) read.push(next.value as Uint8Array);
      const file = decodeExport(Buffer.concat(read));
      assert.deepEqual(file.metadata.operators.counter!.keyGroupParts, { 1: 4 }, 'the export keeps the metadata it started with');
      assert.deepEqual(rowsOf(file.metadata, new Map(file.blobs.map((b) => [b.name, b.bytes])), 1), G1, 'and the state: the last part is now a full base that starts the chain over');
      const done = await compaction;
      assert.equal(done?.partsDeleted, true);
      assert.deepEqual(savepointBlobNames((await savepoints.get(sp.id))!).sort(), ['ks/counter/0', 'ks/counter/1']);
      await savepoints.dispose(sp.id);
      assert.deepEqual((await stored()).filter((k) => k.includes(sp.id)), []);
    });

    test('a compaction stopped by its signal leaves the savepoint as it was', T, async () => {
      const side = await backend.fresh();
      const sp = await partedSavepoint(side, 'job-aborted');
      const blobs = await savepointBlobs(side.savepoints, sp.id);
      assert.equal(await side.savepoints.compact(sp.id, AbortSignal.abort()), undefined);
      assert.deepEqual(await side.savepoints.get(sp.id), sp);
      assert.deepEqual(await savepointBlobs(side.savepoints, sp.id), blobs);
      assert.equal((await side.savepoints.compact(sp.id))?.keyGroups, 1, 'a later one does it');
      await side.savepoints.dispose(sp.id);
    });

    test('a disposal during a compaction waits for it, and leaves nothing behind', T, async () => {
      const side = await backend.fresh();
      const sp = await partedSavepoint(side, 'job-dispose-during');
      const compaction = side.savepoints.compact(sp.id);
      await side.savepoints.dispose(sp.id);
      assert.ok(await compaction);
      assert.equal(await side.savepoints.get(sp.id), undefined);
      assert.deepEqual((await side.stored()).filter((k) => k.includes(sp.id)), []);
    });
  });
}

describe('RedisSavepointStore (an interrupted compaction)', () => {
  const backend = redisBackend();
  before(() => backend.before());
  after(() => backend.after());

  test('a compaction that stops before the metadata step leaves a savepoint of the same state; the next one finishes', T, async () => {
    const side = await backend.fresh();
    const sp = await partedSavepoint(side, 'job-interrupted');
    await side.savepoints.copyReferences(sp.id); // the steps below read the savepoint's keys directly
    // The store's own steps over the same keys (real Redis), failing where the metadata would be replaced.
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
    try {
      const cluster = (await side.stored()).find((k) => k.includes(sp.id))!.match(/^weir:\{(.+):sp-/)![1]!;
      const keys = redisSavepointKeys(cluster, sp.id);
      const storage: CompactionStorage = {
        readMeta: async () => (await redis.get(keys.meta)) ?? undefined,
        readBlobs: async (names) => (await redis.mgetBuffer(names.map((n) => keys.blob(n)))) as Buffer[],
        writeBlobs: async (blobs) => void (await Promise.all(blobs.map((b) => redis.set(keys.blob(b.name), Buffer.from(b.bytes))))),
        copyBlobs: async (copies) => void (await Promise.all(copies.map((c) => redis.copy(keys.blob(c.from), keys.blob(c.to), 'REPLACE')))),
        blobSizes: (names) => Promise.all(names.map((n) => redis.strlen(keys.blob(n)))),
        replaceMeta: async () => {
          throw new Error('the coordinator died here');
        },
        deleteBlobs: async () => assert.fail('nothing is deleted before the metadata step'),
      };
      await assert.rejects(compactSavepoint(sp.id, storage, new SavepointUsers()), /died here/);
      const meta = (await side.savepoints.get(sp.id))!;
      assert.deepEqual(meta, sp, 'the metadata is as it was');
      const blobs = await savepointBlobs(side.savepoints, sp.id);
      assert.equal(readKeyedBlob(blobs.get('ks/counter/1/3')!, 'last part', false).base, true, 'the last part is the folded base');
      assert.deepEqual(rowsOf(meta, blobs, 1), G1, 'the old metadata still reads the same state');
      const done = await side.savepoints.compact(sp.id);
      assert.equal(done?.keyGroups, 1);
      const after = await savepointBlobs(side.savepoints, sp.id);
      assert.deepEqual(rowsOf(done.metadata, after, 1), G1);
      // Its last and first parts were already the folded base: the sizes are recounted, not adjusted.
      assert.equal(done.metadata.sizeBytes, [...after.values()].reduce((n, b) => n + b.byteLength, 0), 'sizeBytes is what the store holds');
      assert.equal((await side.savepoints.get(sp.id))!.sizeBytes, done.metadata.sizeBytes);
      await side.savepoints.dispose(sp.id);
      assert.deepEqual((await side.stored()).filter((k) => k.includes(sp.id)), []);

      // Stopped after the metadata step, before the old parts were deleted: the disposal deletes them.
      const sp2 = await partedSavepoint(side, 'job-interrupted-late');
      await side.savepoints.copyReferences(sp2.id);
      const late: CompactionStorage = {
        ...storage,
        readMeta: async () => (await redis.get(redisSavepointKeys(cluster, sp2.id).meta)) ?? undefined,
        readBlobs: async (names) => (await redis.mgetBuffer(names.map((n) => redisSavepointKeys(cluster, sp2.id).blob(n)))) as Buffer[],
        writeBlobs: async (blobs) => void (await Promise.all(blobs.map((b) => redis.set(redisSavepointKeys(cluster, sp2.id).blob(b.name), Buffer.from(b.bytes))))),
        copyBlobs: async (copies) => void (await Promise.all(copies.map((c) => redis.copy(redisSavepointKeys(cluster, sp2.id).blob(c.from), redisSavepointKeys(cluster, sp2.id).blob(c.to), 'REPLACE')))),
        blobSizes: (names) => Promise.all(names.map((n) => redis.strlen(redisSavepointKeys(cluster, sp2.id).blob(n)))),
        replaceMeta: async (expected, next) => (await redis.get(redisSavepointKeys(cluster, sp2.id).meta)) === expected && (await redis.set(redisSavepointKeys(cluster, sp2.id).meta, next)) === 'OK',
        deleteBlobs: async () => {
          throw new Error('the coordinator died here');
        },
      };
      await assert.rejects(compactSavepoint(sp2.id, late, new SavepointUsers()), /died here/);
      const compacted = (await side.savepoints.get(sp2.id))!;
      assert.equal(typeof compacted.compactedAt, 'number');
      assert.deepEqual(rowsOf(compacted, await savepointBlobs(side.savepoints, sp2.id), 1), G1);
      assert.ok((await side.stored()).some((k) => k.endsWith(`${sp2.id}}:blob:ks/counter/1/3`)), 'the old parts are still there');
      await side.savepoints.dispose(sp2.id);
      assert.deepEqual((await side.stored()).filter((k) => k.includes(sp2.id)), []);
    } finally {
      await redis.quit();
    }
  });
});

test('waiting for readers ends when the compaction is stopped: the parts are left to the disposal', T, async () => {
  const users = new SavepointUsers();
  let release!: () => void;
  const reading = users.read('sp-0000000000000001', () => new Promise<void>((r) => (release = r)));
  const stop = new AbortController();
  const waited = users.idle('sp-0000000000000001', 60_000, stop.signal);
  setTimeout(() => stop.abort(), 20);
  assert.equal(await waited, false, 'a reader is left');
  release();
  await reading;
  assert.equal(await users.idle('sp-0000000000000001', 1_000), true);
});
