/**
 * One contract suite run against every SavepointStore, each paired with its snapshot store: Redis
 * (redis://127.0.0.1:6379, databases 0 and 1, a cluster id unique to each test, its keys deleted
 * afterwards; never flushed) and fresh temp directories. The export format and chain merging: savepoint-format.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Packr } from 'msgpackr';
import { applyKeyedBlob, readKeyedBlob } from '../state/keyed-blob.js';
import { decodeExport, encodeExport } from './export-format.js';
import { FileSavepointStore } from './file-savepoint-store.js';
import { FileSnapshotStore } from './file-store.js';
import { keyGroupBlob, operatorStateBlob } from './names.js';
import { RedisSavepointStore } from './redis-savepoint-store.js';
import { RedisSnapshotStore } from './redis-store.js';
import { chainedWriteParts, newSavepointId, savepointBlobNames } from './savepoint-names.js';
import { SAVEPOINT_FORMAT_VERSION, type SavepointJobInfo, type SavepointStore } from './savepoint-types.js';
import { exportFile, rejectsWith, ROWS, scanAll } from './store-testing.js';
import type { CompletedCheckpoint, SnapshotStore } from './types.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
/** A second database: "another Redis" for export and import. */
const REDIS_URL_OTHER = 'redis://127.0.0.1:6379/1';
const RUN = `sptest-${process.pid}-${Date.now()}`;
/** Every test is bounded: a hung store fails the test instead of the run. */
const T = { timeout: 30_000 };
/** The state blob settings of snapshot-strategy.ts. */
const statePackr = new Packr({ moreTypes: true });

/** A savepoint store with its snapshot store, on storage no other test uses. */
interface Side {
  readonly snapshots: SnapshotStore;
  readonly savepoints: SavepointStore;
  /** Every savepoint key or file in the backing storage (the index included). */
  stored(): Promise<string[]>;
}

interface Backend {
  readonly name: string;
  before(): Promise<void>;
  /** Fresh, empty stores; `other`: in another database or directory (for import). */
  fresh(other?: boolean): Promise<Side>;
  /** Delete everything `fresh` made. */
  after(): Promise<void>;
}

function redisBackend(): Backend {
  let main: Redis;
  let other: Redis;
  const made: { redis: Redis; cluster: string }[] = [];
  return {
    name: 'RedisSavepointStore',
    async before() {
      main = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, connectTimeout: 2_000 });
      other = new Redis(REDIS_URL_OTHER, { maxRetriesPerRequest: 2, connectTimeout: 2_000 });
    },
    async fresh(useOther = false) {
      const redis = useOther ? other : main;
      const cluster = `${RUN}-${made.length}`;
      made.push({ redis, cluster });
      const snapshots = new RedisSnapshotStore(redis, { cluster });
      return {
        snapshots,
        savepoints: new RedisSavepointStore(redis, { cluster }, snapshots),
        stored: async () => [...(await scanAll(redis, `weir:{${cluster}:sp-*`)), ...((await redis.exists(`weir:{${cluster}}:savepoints`)) ? ['index'] : [])],
      };
    },
    async after() {
      for (const { redis, cluster } of made) {
        for (const pattern of [`weir:{${cluster}:*`, `weir:{${cluster}}:*`]) {
          const keys = await scanAll(redis, pattern);
          if (keys.length > 0) await redis.unlink(keys);
        }
      }
      await main.quit();
      await other.quit();
    },
  };
}

function fileBackend(): Backend {
  const dirs: string[] = [];
  return {
    name: 'FileSavepointStore',
    async before() {},
    async fresh() {
      const dir = await mkdtemp(join(tmpdir(), 'weir-savepoints-'));
      dirs.push(dir);
      const snapshots = new FileSnapshotStore(dir);
      return {
        snapshots,
        savepoints: new FileSavepointStore(dir, snapshots),
        stored: async () => {
          const ids = await readdir(join(dir, 'savepoints')).catch(() => []);
          return (await Promise.all(ids.map(async (id) => [id, ...(await readdir(join(dir, 'savepoints', id), { recursive: true })).map((f) => `${id}/${f}`)]))).flat();
        },
      };
    },
    async after() {
      for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    },
  };
}

const INFO = (jobId: string, jobName = 'wordcount'): SavepointJobInfo => ({
  jobId,
  jobName,
  jobVersion: '1.2.0',
  reason: 'manual',
  operators: {
    counter: { kind: 'actor', keyed: true, state: { count: 'value', seen: 'set' } },
    src: { kind: 'source', keyed: false },
    sink: { kind: 'sink', keyed: false },
  },
});

/**
 * Writes checkpoint 5 of `jobId` (attempt 1) through the snapshot store: a keyed actor with one-blob
 * chains, a base + 2 deltas chain (`withChain`) and an empty base; a source and a sink with
 * operator state. Returns it with its blobs by name.
 */
async function writeCheckpoint(snapshots: SnapshotStore, jobId: string, withChain = true): Promise<{ checkpoint: CompletedCheckpoint; blobs: Map<string, Uint8Array> }> {
  const blobs = new Map<string, Uint8Array>([
    [keyGroupBlob('counter', 0, 1, 5, 'base'), statePackr.pack({ v: 1, base: true, entries: ROWS.g0 })],
    [keyGroupBlob('counter', 2, 1, 5, 'base'), statePackr.pack({ v: 1, base: true, entries: [] })],
    [operatorStateBlob('src', 0, 1, 5), statePackr.pack({ v: 1, value: { seq: 42 } })],
    [operatorStateBlob('src', 1, 1, 5), statePackr.pack({ v: 1, value: { seq: 7 } })],
    [operatorStateBlob('sink', 0, 1, 5), statePackr.pack({ v: 1, row: { pending: ['t1'] } })],
  ]);
  const g1: string[] = [keyGroupBlob('counter', 1, 1, 3, 'base'), keyGroupBlob('counter', 1, 1, 4, 'delta'), keyGroupBlob('counter', 1, 1, 5, 'delta')];
  if (withChain) {
    blobs.set(g1[0], statePackr.pack({ v: 1, base: true, entries: ROWS.g1Base }));
    blobs.set(g1[1], statePackr.pack({ v: 1, base: false, entries: ROWS.g1Delta1 }));
    blobs.set(g1[2], statePackr.pack({ v: 1, base: false, entries: ROWS.g1Delta2 }));
  }
  await snapshots.fence(jobId, 1);
  await snapshots.writeBlobs(jobId, 1, [...blobs].map(([name, bytes]) => ({ name, bytes })));
  const checkpoint: CompletedCheckpoint = {
    formatVersion: 1,
    id: 5,
    jobId,
    attempt: 1,
    timestamp: 1_700_000_000_000,
    completedAt: 1_700_000_000_100,
    operators: {
      counter: {
        maxParallelism: 8,
        parallelism: 2,
        keyGroups: withChain ? { 0: [keyGroupBlob('counter', 0, 1, 5, 'base')], 1: g1, 2: [keyGroupBlob('counter', 2, 1, 5, 'base')] } : { 0: [keyGroupBlob('counter', 0, 1, 5, 'base')], 2: [keyGroupBlob('counter', 2, 1, 5, 'base')] },
        operatorState: {},
      },
      src: { maxParallelism: 2, parallelism: 2, keyGroups: {}, operatorState: { 0: operatorStateBlob('src', 0, 1, 5), 1: operatorStateBlob('src', 1, 1, 5) } },
      sink: { maxParallelism: 1, parallelism: 1, keyGroups: {}, operatorState: { 0: operatorStateBlob('sink', 0, 1, 5) } },
    },
    finished: [],
    stateBytes: 0,
    writtenBytes: 0,
  };
  await snapshots.commitCheckpoint(jobId, 1, checkpoint);
  return { checkpoint, blobs };
}

/** Canonical name -> bytes of every blob of savepoint `id`. */
async function savepointBlobs(store: SavepointStore, id: string): Promise<Map<string, Buffer>> {
  const metadata = (await store.get(id))!;
  const names = savepointBlobNames(metadata);
  const bytes = await store.readBlobs(id, names);
  return new Map(names.map((n, i) => [n, Buffer.from(bytes[i])]));
}

for (const backend of [redisBackend(), fileBackend()]) {
  describe(`${backend.name} (contract)`, () => {
    before(() => backend.before());
    after(() => backend.after());

    test('create copies one-blob chains and operator state under canonical names and describes them', T, async () => {
      const { snapshots, savepoints } = await backend.fresh();
      const { checkpoint, blobs } = await writeCheckpoint(snapshots, 'src-job');
      const before = Date.now();
      const sp = await savepoints.create(checkpoint, INFO('src-job'));
      assert.match(sp.id, /^sp-[0-9a-f]{16}$/);
      const { id, createdAt, operators, sizeBytes, ...rest } = sp;
      assert.ok(createdAt >= before && createdAt <= Date.now());
      assert.deepEqual(rest, { formatVersion: SAVEPOINT_FORMAT_VERSION, jobName: 'wordcount', jobVersion: '1.2.0', jobId: 'src-job', checkpointId: 5, reason: 'manual' });
      assert.equal(sp.importedAt, undefined);
      const back = await savepointBlobs(savepoints, id);
      const size = (names: string[]): number => names.reduce((n, name) => n + back.get(name)!.byteLength, 0);
      assert.deepEqual(operators, {
        counter: {
          uid: 'counter', kind: 'actor', parallelism: 2, maxParallelism: 8, keyed: true, state: { count: 'value', seen: 'set' },
          keyGroups: { 0: 'ks/counter/0', 1: 'ks/counter/1', 2: 'ks/counter/2' }, operatorState: {},
          bytes: size(['ks/counter/0', 'ks/counter/1', 'ks/counter/2']),
        },
        src: { uid: 'src', kind: 'source', parallelism: 2, maxParallelism: 2, keyed: false, keyGroups: {}, operatorState: { 0: 'os/src/0', 1: 'os/src/1' }, bytes: size(['os/src/0', 'os/src/1']) },
        sink: { uid: 'sink', kind: 'sink', parallelism: 1, maxParallelism: 1, keyed: false, keyGroups: {}, operatorState: { 0: 'os/sink/0' }, bytes: size(['os/sink/0']) },
      });
      assert.equal(sizeBytes, [...back.values()].reduce((n, b) => n + b.byteLength, 0));
      // One-blob chains are the checkpoint's bytes, unchanged.
      assert.ok(back.get('ks/counter/0')!.equals(blobs.get(keyGroupBlob('counter', 0, 1, 5, 'base'))!));
      assert.ok(back.get('ks/counter/2')!.equals(blobs.get(keyGroupBlob('counter', 2, 1, 5, 'base'))!));
      assert.ok(back.get('os/src/1')!.equals(blobs.get(operatorStateBlob('src', 1, 1, 5))!));
      assert.ok(back.get('os/sink/0')!.equals(blobs.get(operatorStateBlob('sink', 0, 1, 5))!));
      assert.deepEqual(await savepoints.get(id), sp);
    });

    test('a chain of a base and deltas becomes one merged base', T, async () => {
      const { snapshots, savepoints } = await backend.fresh();
      const { checkpoint } = await writeCheckpoint(snapshots, 'src-job');
      const sp = await savepoints.create(checkpoint, INFO('src-job'));
      const [merged] = await savepoints.readBlobs(sp.id, ['ks/counter/1']);
      assert.deepEqual(statePackr.unpack(merged), { v: 1, base: true, flat: ROWS.g1Merged.flat() });
    });

    test('a checkpoint blob that is gone is WEIR_SNAPSHOT_MISSING and leaves nothing behind', T, async () => {
      const { snapshots, savepoints, stored } = await backend.fresh();
      const { checkpoint } = await writeCheckpoint(snapshots, 'src-job');
      await snapshots.deleteBlobs('src-job', [operatorStateBlob('src', 1, 1, 5)]);
      await rejectsWith(savepoints.create(checkpoint, INFO('src-job')), 'WEIR_SNAPSHOT_MISSING', /'os\/src\/1\/1-5'/);
      assert.deepEqual(await savepoints.list(), []);
      assert.deepEqual(await stored(), []);
      // A delta of a merged chain as well.
      const again = await backend.fresh();
      const second = await writeCheckpoint(again.snapshots, 'src-job');
      await again.snapshots.deleteBlobs('src-job', [keyGroupBlob('counter', 1, 1, 4, 'delta')]);
      await rejectsWith(again.savepoints.create(second.checkpoint, INFO('src-job')), 'WEIR_SNAPSHOT_MISSING', /1-4-delta/);
      assert.deepEqual(await again.stored(), []);
    });

    test('get, and list newest first, filtered by job name', T, async () => {
      const { snapshots, savepoints } = await backend.fresh();
      assert.deepEqual(await savepoints.list(), []);
      const { checkpoint } = await writeCheckpoint(snapshots, 'src-job');
      const a = await savepoints.create(checkpoint, INFO('src-job'));
      await sleep(3); // distinct createdAt
      const b = await savepoints.create(checkpoint, INFO('src-job', 'other'));
      await sleep(3);
      const c = await savepoints.create(checkpoint, INFO('src-job'));
      assert.deepEqual(await savepoints.list(), [c, b, a]);
      assert.deepEqual(await savepoints.list({ jobName: 'wordcount' }), [c, a]);
      assert.deepEqual(await savepoints.list({ jobName: 'other' }), [b]);
      assert.deepEqual(await savepoints.list({ jobName: 'none' }), []);
      assert.deepEqual(await savepoints.get(b.id), b);
      assert.equal(await savepoints.get('sp-0000000000000000'), undefined);
      await rejectsWith(savepoints.get('sp-../../etc'), 'WEIR_SAVEPOINT_ID_INVALID', /sp-\.\.\/\.\.\/etc/);
    });

    test('readBlobs answers in the order asked; a missing blob or savepoint is reported as such', T, async () => {
      const { snapshots, savepoints } = await backend.fresh();
      const { checkpoint, blobs } = await writeCheckpoint(snapshots, 'src-job');
      const sp = await savepoints.create(checkpoint, INFO('src-job'));
      const got = await savepoints.readBlobs(sp.id, ['os/src/0', 'ks/counter/0', 'os/src/0']);
      assert.deepEqual(got.map((b) => Buffer.from(b)), [operatorStateBlob('src', 0, 1, 5), keyGroupBlob('counter', 0, 1, 5, 'base'), operatorStateBlob('src', 0, 1, 5)].map((n) => Buffer.from(blobs.get(n)!)));
      assert.deepEqual(await savepoints.readBlobs(sp.id, []), []);
      await rejectsWith(savepoints.readBlobs(sp.id, ['ks/counter/0', 'ks/counter/9']), 'WEIR_SNAPSHOT_MISSING', /'ks\/counter\/9'.*sp-/);
      await rejectsWith(savepoints.readBlobs('sp-0000000000000000', ['ks/counter/0']), 'WEIR_SAVEPOINT_NOT_FOUND');
    });

    test('dispose deletes metadata and blobs of that savepoint only; an unknown id is WEIR_SAVEPOINT_NOT_FOUND', T, async () => {
      const { snapshots, savepoints, stored: all } = await backend.fresh();
      const { checkpoint } = await writeCheckpoint(snapshots, 'src-job');
      const gone = await savepoints.create(checkpoint, INFO('src-job'));
      const kept = await savepoints.create(checkpoint, INFO('src-job'));
      const keptBlobs = await savepointBlobs(savepoints, kept.id);
      await savepoints.dispose(gone.id);
      assert.equal(await savepoints.get(gone.id), undefined);
      assert.deepEqual(await savepoints.list(), [kept]);
      assert.deepEqual((await all()).filter((k) => k.includes(gone.id)), []);
      assert.deepEqual(await savepointBlobs(savepoints, kept.id), keptBlobs);
      const message = `no savepoint '${gone.id}'; list them with GET /savepoints or 'weir savepoints'`;
      await rejectsWith(savepoints.dispose(gone.id), 'WEIR_SAVEPOINT_NOT_FOUND', new RegExp(`^${escapeRegExp(message)}$`));
      await rejectsWith(exportFile(savepoints, gone.id), 'WEIR_SAVEPOINT_NOT_FOUND');
      await rejectsWith(savepoints.materialize(gone.id, { jobId: 'x', attempt: 1, uids: ['counter'], withoutOperatorState: [] }), 'WEIR_SAVEPOINT_NOT_FOUND');
      await savepoints.dispose(kept.id);
      assert.deepEqual(await all(), []);
      // The checkpoint it was made from is untouched.
      assert.equal((await snapshots.readBlobs('src-job', [keyGroupBlob('counter', 0, 1, 5, 'base')])).length, 1);
    });

    test('deleting the source job leaves the savepoint intact', T, async () => {
      const { snapshots, savepoints } = await backend.fresh();
      const { checkpoint } = await writeCheckpoint(snapshots, 'src-job');
      const sp = await savepoints.create(checkpoint, INFO('src-job'));
      const before = await savepointBlobs(savepoints, sp.id);
      await snapshots.deleteJob('src-job');
      assert.equal(await snapshots.latestCheckpoint('src-job'), undefined);
      assert.deepEqual(await savepoints.get(sp.id), sp);
      assert.deepEqual(await savepointBlobs(savepoints, sp.id), before);
      assert.equal(decodeExport(await exportFile(savepoints, sp.id)).blobs.length, before.size);
    });

    test('export, then import into another store: the same metadata (plus importedAt) and blobs', T, async () => {
      const here = await backend.fresh();
      const there = await backend.fresh(true);
      const { checkpoint } = await writeCheckpoint(here.snapshots, 'src-job');
      const sp = await here.savepoints.create(checkpoint, INFO('src-job'));
      const file = await exportFile(here.savepoints, sp.id);
      assert.equal(Buffer.from(file).subarray(0, 8).toString('latin1'), 'WEIRSAV1');
      // The streamed export, in several pieces, is the file encodeExport makes of the same blobs.
      const pieces: Uint8Array[] = [];
      for await (const piece of await here.savepoints.exportStream(sp.id)) pieces.push(piece);
      assert.ok(pieces.length > 3);
      const names = savepointBlobNames(sp);
      const blobs = await here.savepoints.readBlobs(sp.id, names);
      assert.deepEqual(Buffer.from(file), Buffer.from(encodeExport(sp, names.map((name, i) => ({ name, bytes: blobs[i]! })))));
      await rejectsWith(here.savepoints.exportStream('sp-0000000000000000'), 'WEIR_SAVEPOINT_NOT_FOUND');
      const before = Date.now();
      const imported = await there.savepoints.importFile(file);
      const { importedAt, ...rest } = imported;
      assert.deepEqual(rest, sp);
      assert.ok(importedAt !== undefined && importedAt >= before && importedAt <= Date.now());
      assert.deepEqual(await there.savepoints.get(sp.id), imported);
      assert.deepEqual(await there.savepoints.list(), [imported]);
      assert.deepEqual(await savepointBlobs(there.savepoints, sp.id), await savepointBlobs(here.savepoints, sp.id));
      // Exported again from there, it carries the same blobs.
      const again = decodeExport(await exportFile(there.savepoints, sp.id));
      assert.deepEqual(again.blobs.map((b) => [b.name, Buffer.from(b.bytes)]), decodeExport(file).blobs.map((b) => [b.name, Buffer.from(b.bytes)]));
    });

    test('importing an id the store holds is WEIR_SAVEPOINT_EXISTS; after dispose it imports again', T, async () => {
      const { snapshots, savepoints } = await backend.fresh();
      const { checkpoint } = await writeCheckpoint(snapshots, 'src-job');
      const sp = await savepoints.create(checkpoint, INFO('src-job'));
      const file = await exportFile(savepoints, sp.id);
      await rejectsWith(savepoints.importFile(file), 'WEIR_SAVEPOINT_EXISTS', new RegExp(sp.id));
      assert.deepEqual(await savepoints.list(), [sp]);
      await savepoints.dispose(sp.id);
      const imported = await savepoints.importFile(file);
      assert.equal(imported.id, sp.id);
      assert.equal((await savepointBlobs(savepoints, sp.id)).size, savepointBlobNames(sp).length);
    });

    test('a damaged export file is WEIR_SAVEPOINT_CORRUPT and imports nothing', T, async () => {
      const here = await backend.fresh();
      const there = await backend.fresh(true);
      const { checkpoint } = await writeCheckpoint(here.snapshots, 'src-job');
      const sp = await here.savepoints.create(checkpoint, INFO('src-job'));
      const file = Buffer.from(await exportFile(here.savepoints, sp.id));
      const flipped = Buffer.from(file);
      flipped[flipped.byteLength >> 1] ^= 0x01;
      await rejectsWith(there.savepoints.importFile(flipped), 'WEIR_SAVEPOINT_CORRUPT', /checksum mismatch/);
      await rejectsWith(there.savepoints.importFile(file.subarray(0, file.byteLength - 10)), 'WEIR_SAVEPOINT_CORRUPT', /truncated/);
      await rejectsWith(there.savepoints.importFile(Buffer.concat([Buffer.from('WEIRSAV2'), file.subarray(8)])), 'WEIR_SAVEPOINT_CORRUPT', /bad magic/);
      assert.deepEqual(await there.savepoints.list(), []);
      assert.deepEqual(await there.stored(), []);
    });

    test('materialize copies the state into a new job and commits it as its latest checkpoint', T, async () => {
      const { snapshots, savepoints } = await backend.fresh();
      const { checkpoint } = await writeCheckpoint(snapshots, 'src-job');
      const sp = await savepoints.create(checkpoint, INFO('src-job'));
      await snapshots.fence('restored', 3);
      const cp = await savepoints.materialize(sp.id, { jobId: 'restored', attempt: 3, uids: ['counter', 'src', 'sink', 'new-op'], withoutOperatorState: ['sink'] });
      assert.deepEqual(await snapshots.latestCheckpoint('restored'), cp);
      assert.equal(cp.id, 5);
      assert.equal(cp.jobId, 'restored');
      assert.equal(cp.attempt, 3);
      assert.deepEqual(cp.finished, []);
      assert.deepEqual(cp.operators, {
        counter: { maxParallelism: 8, parallelism: 2, operatorState: {}, keyGroups: { 0: [keyGroupBlob('counter', 0, 0, 5, 'base')], 1: [keyGroupBlob('counter', 1, 0, 5, 'base')], 2: [keyGroupBlob('counter', 2, 0, 5, 'base')] } },
        src: { maxParallelism: 2, parallelism: 2, keyGroups: {}, operatorState: { 0: operatorStateBlob('src', 0, 0, 5), 1: operatorStateBlob('src', 1, 0, 5) } },
        sink: { maxParallelism: 1, parallelism: 1, keyGroups: {}, operatorState: {} },
      });
      // Read back through the ordinary restore path: the same bytes as the savepoint's.
      const names = Object.values(cp.operators).flatMap((op) => [...Object.values(op.keyGroups).flat(), ...Object.values(op.operatorState)]);
      const restored = await snapshots.readBlobs('restored', names);
      const expected = await savepoints.readBlobs(sp.id, names.map(canonical));
      restored.forEach((b, i) => assert.ok(Buffer.from(b).equals(Buffer.from(expected[i])), `${names[i]} differs`));
      assert.deepEqual(statePackr.unpack(restored[1]), { v: 1, base: true, flat: ROWS.g1Merged.flat() });
      // Job and savepoint are independent from now on, both ways.
      await snapshots.deleteJob('restored');
      assert.equal((await savepointBlobs(savepoints, sp.id)).size, 6);
      await snapshots.fence('restored-2', 1);
      await savepoints.materialize(sp.id, { jobId: 'restored-2', attempt: 1, uids: ['src'], withoutOperatorState: [] });
      await savepoints.dispose(sp.id);
      assert.deepEqual((await snapshots.latestCheckpoint('restored-2'))?.operators, { src: cp.operators.src });
      assert.equal((await snapshots.readBlobs('restored-2', Object.values(cp.operators.src.operatorState))).length, 2);
    });

    test('materialize is fenced by the attempt', T, async () => {
      const { snapshots, savepoints } = await backend.fresh();
      const { checkpoint } = await writeCheckpoint(snapshots, 'src-job');
      const sp = await savepoints.create(checkpoint, INFO('src-job'));
      await snapshots.fence('restored', 4);
      await rejectsWith(savepoints.materialize(sp.id, { jobId: 'restored', attempt: 3, uids: ['counter'], withoutOperatorState: [] }), 'WEIR_SNAPSHOT_FENCED');
      assert.equal(await snapshots.latestCheckpoint('restored'), undefined);
    });

    test('detached: workers write canonical blobs while prepared; complete records them, then writes are fenced', T, async () => {
      const { snapshots, savepoints, stored } = await backend.fresh();
      const id = newSavepointId();
      const blob = (name: string, n: number): { name: string; bytes: Uint8Array } => ({ name, bytes: statePackr.pack({ v: 1, base: true, flat: [`k${n}`, { count: n }] }) });
      const written = [blob('ks/counter/0', 1), blob('ks/counter/5', 2), { name: 'os/src/0', bytes: statePackr.pack({ v: 1, value: 7 }) }];
      await rejectsWith(snapshots.writeSavepointBlobs(id, 3, written), 'WEIR_SNAPSHOT_FENCED', /never prepared/);
      await savepoints.prepare(id, 3);
      await rejectsWith(snapshots.writeSavepointBlobs(id, 2, written), 'WEIR_SNAPSHOT_FENCED');
      assert.equal(await snapshots.writeSavepointBlobs(id, 3, written), written.reduce((n, b) => n + b.bytes.byteLength, 0));
      assert.deepEqual(await savepoints.list(), [], 'not listed while being taken');
      const taken: CompletedCheckpoint = {
        formatVersion: 1, id: 9, jobId: 'live-job', attempt: 3, timestamp: 1, completedAt: 2, finished: [], stateBytes: 0, writtenBytes: 0,
        operators: {
          counter: { parallelism: 2, maxParallelism: 8, keyGroups: { 0: ['ks/counter/0'], 5: ['ks/counter/5'] }, operatorState: {} },
          src: { parallelism: 1, maxParallelism: 1, keyGroups: {}, operatorState: { 0: 'os/src/0' } },
        },
      };
      const sp = await savepoints.complete(id, taken, INFO('live-job'));
      assert.equal(sp.id, id);
      assert.equal(sp.checkpointId, 9);
      assert.deepEqual(sp.operators.counter!.keyGroups, { 0: 'ks/counter/0', 5: 'ks/counter/5' });
      assert.equal(sp.sizeBytes, written.reduce((n, b) => n + b.bytes.byteLength, 0));
      assert.deepEqual((await savepoints.list()).map((m) => m.id), [id]);
      const back = await savepointBlobs(savepoints, id);
      for (const b of written) assert.ok(back.get(b.name)!.equals(Buffer.from(b.bytes)), b.name);
      // Completed: a late write of the same attempt is refused, and nothing is changed by it.
      await rejectsWith(snapshots.writeSavepointBlobs(id, 3, [blob('ks/counter/6', 3)]), 'WEIR_SNAPSHOT_FENCED');
      assert.deepEqual([...(await savepointBlobs(savepoints, id)).keys()].sort(), written.map((b) => b.name).sort());
      // It restores like any other: materialize into a new job.
      await snapshots.fence('from-live', 1);
      const cp = await savepoints.materialize(id, { jobId: 'from-live', attempt: 1, uids: ['counter', 'src'], withoutOperatorState: [] });
      assert.deepEqual(Object.keys(cp.operators.counter!.keyGroups), ['0', '5']);
      await savepoints.dispose(id);
      assert.deepEqual((await stored()).filter((k) => k.includes(id)), []);
    });

    test('detached: a key group made from the job\'s stored chain plus a tail holds the whole state as parts; fenced; a missing chain blob is WEIR_SNAPSHOT_MISSING; it restores as a chain', T, async () => {
      const { snapshots, savepoints, stored } = await backend.fresh();
      const { checkpoint, blobs } = await writeCheckpoint(snapshots, 'chained-job');
      const g0 = checkpoint.operators.counter!.keyGroups[0]!;
      const g1 = checkpoint.operators.counter!.keyGroups[1]!;
      assert.ok(g1.length > 1, 'key group 1 is a base and deltas');
      const tail = statePackr.pack({ v: 1, base: false, flat: ['x', { n: 99 }, 'v', { n: 5 }] });
      const writes = [{ name: 'ks/counter/1', chain: g1, tail }, { name: 'ks/counter/0', chain: g0 }];
      const id = newSavepointId();
      await rejectsWith(snapshots.writeSavepointChains('chained-job', id, 1, writes), 'WEIR_SNAPSHOT_FENCED', /never prepared/);
      await savepoints.prepare(id, 1);
      await rejectsWith(snapshots.writeSavepointChains('chained-job', id, 2, writes), 'WEIR_SNAPSHOT_FENCED');
      await rejectsWith(snapshots.writeSavepointChains('chained-job', id, 1, [{ name: 'ks/counter/3', chain: [keyGroupBlob('counter', 3, 1, 5, 'base')] }]), 'WEIR_SNAPSHOT_MISSING', /counter\/3\/1-5-base/);
      const parts1 = chainedWriteParts(writes[0]!);
      assert.deepEqual(parts1, ['ks/counter/1', ...g1.map((_, i) => `ks/counter/1/${i + 1}`)]);
      const expected = new Map<string, Buffer>([...g1.map((n, i): [string, Buffer] => [parts1[i]!, Buffer.from(blobs.get(n)!)]), [parts1[g1.length]!, Buffer.from(tail)], ['ks/counter/0', Buffer.from(blobs.get(g0[0]!)!)]]);
      const total = [...expected.values()].reduce((n, b) => n + b.length, 0);
      assert.equal(await snapshots.writeSavepointChains('chained-job', id, 1, writes), total);
      const taken: CompletedCheckpoint = {
        formatVersion: 1, id: 6, jobId: 'chained-job', attempt: 1, timestamp: 1, completedAt: 2, finished: [], stateBytes: 0, writtenBytes: 0,
        operators: { counter: { parallelism: 1, maxParallelism: 8, keyGroups: { 0: ['ks/counter/0'], 1: parts1 }, operatorState: {} } },
      };
      const sp = await savepoints.complete(id, taken, INFO('chained-job'));
      assert.equal(sp.formatVersion, 2);
      assert.equal(sp.sizeBytes, total);
      assert.deepEqual(sp.operators.counter!.keyGroupParts, { 1: g1.length + 1 });
      const back = await savepointBlobs(savepoints, id);
      assert.deepEqual([...back.keys()].sort(), [...expected.keys()].sort());
      for (const [n, b] of expected) assert.ok(back.get(n)!.equals(b), n);
      const rows = new Map<string, unknown>();
      parts1.forEach((n, i) => applyKeyedBlob(readKeyedBlob(back.get(n)!, n, i === 0), rows));
      assert.deepEqual([...rows], [...ROWS.g1Merged.map(([k, v]) => (k === 'x' ? ['x', { n: 99 }] : [k, v])), ['v', { n: 5 }]]);
      // The job's own blobs are untouched, and the savepoint outlives the job.
      assert.ok(Buffer.from((await snapshots.readBlobs('chained-job', [g1[0]!]))[0]!).equals(Buffer.from(blobs.get(g1[0]!)!)));
      await snapshots.deleteJob('chained-job');
      const after = await savepointBlobs(savepoints, id);
      for (const [n, b] of expected) assert.ok(after.get(n)!.equals(b), `${n} after the job is gone`);
      await rejectsWith(snapshots.writeSavepointChains('chained-job', id, 1, writes), 'WEIR_SNAPSHOT_FENCED');
      // Resumed, the parts are the new job's chain: a base, then the deltas in order.
      await snapshots.fence('from-parts', 1);
      const cp = await savepoints.materialize(id, { jobId: 'from-parts', attempt: 1, uids: ['counter'], withoutOperatorState: [] });
      const chain = cp.operators.counter!.keyGroups[1]!;
      assert.equal(chain.length, g1.length + 1);
      const read = await snapshots.readBlobs('from-parts', chain);
      read.forEach((b, i) => assert.ok(Buffer.from(b).equals(expected.get(parts1[i]!)!), chain[i]));
      await snapshots.deleteJob('from-parts');
      await savepoints.dispose(id);
      assert.deepEqual((await stored()).filter((k) => k.includes(id)), []);
    });

    test('detached: complete with the bytes the workers reported records them once they match the blobs; other bytes are WEIR_SNAPSHOT_CORRUPT and leave nothing', T, async () => {
      const { snapshots, savepoints, stored } = await backend.fresh();
      const written = [{ name: 'ks/counter/0', bytes: statePackr.pack({ v: 1, base: true, flat: ['a', { count: 1 }] }) }, { name: 'os/src/0', bytes: statePackr.pack({ v: 1, value: 7 }) }];
      const [kb, ob] = written.map((b) => b.bytes.byteLength) as [number, number];
      const taken = (id: number): CompletedCheckpoint => ({
        formatVersion: 1, id, jobId: 'live-job', attempt: 1, timestamp: 1, completedAt: 2, finished: [], stateBytes: 0, writtenBytes: 0,
        operators: {
          counter: { parallelism: 1, maxParallelism: 8, keyGroups: { 0: ['ks/counter/0'] }, operatorState: {} },
          src: { parallelism: 1, maxParallelism: 1, keyGroups: {}, operatorState: { 0: 'os/src/0' } },
        },
      });
      const good = newSavepointId();
      await savepoints.prepare(good, 1);
      await snapshots.writeSavepointBlobs(good, 1, written);
      const sp = await savepoints.complete(good, taken(3), INFO('live-job'), { counter: kb, src: ob });
      assert.equal(sp.sizeBytes, kb + ob);
      assert.deepEqual([sp.operators.counter!.bytes, sp.operators.src!.bytes], [kb, ob]);
      assert.deepEqual(await savepoints.get(good), sp);
      assert.deepEqual((await savepoints.list()).map((m) => m.id), [good]);
      await rejectsWith(snapshots.writeSavepointBlobs(good, 1, written), 'WEIR_SNAPSHOT_FENCED');
      const bad = newSavepointId();
      await savepoints.prepare(bad, 1);
      await snapshots.writeSavepointBlobs(bad, 1, written);
      await rejectsWith(savepoints.complete(bad, taken(4), INFO('live-job'), { counter: kb + 1, src: ob }), 'WEIR_SNAPSHOT_CORRUPT', new RegExp(`hold ${kb + ob} bytes, but its workers reported ${kb + ob + 1}`));
      assert.deepEqual((await savepoints.list()).map((m) => m.id), [good]);
      assert.deepEqual((await stored()).filter((k) => k.includes(bad)), [], 'a refused complete leaves nothing');
      const missing = newSavepointId();
      await savepoints.prepare(missing, 1);
      await snapshots.writeSavepointBlobs(missing, 1, written.slice(0, 1));
      await rejectsWith(savepoints.complete(missing, taken(5), INFO('live-job'), { counter: kb, src: ob }), 'WEIR_SNAPSHOT_MISSING', /'os\/src\/0'/);
      assert.deepEqual((await stored()).filter((k) => k.includes(missing)), []);
      await rejectsWith(savepoints.complete(missing, taken(5), INFO('live-job'), { counter: kb, src: ob }), 'WEIR_SAVEPOINT_NOT_FOUND', /abandoned/);
      await savepoints.dispose(good);
    });

    test('detached: a blob the workers did not write fails complete; abandon deletes what was written and fences the rest', T, async () => {
      const { snapshots, savepoints, stored } = await backend.fresh();
      const id = newSavepointId();
      await savepoints.prepare(id, 1);
      await snapshots.writeSavepointBlobs(id, 1, [{ name: 'ks/counter/0', bytes: statePackr.pack({ v: 1, base: true, flat: [] }) }]);
      const taken: CompletedCheckpoint = {
        formatVersion: 1, id: 2, jobId: 'live-job', attempt: 1, timestamp: 1, completedAt: 2, finished: [], stateBytes: 0, writtenBytes: 0,
        operators: { counter: { parallelism: 1, maxParallelism: 8, keyGroups: { 0: ['ks/counter/0'], 1: ['ks/counter/1'] }, operatorState: {} } },
      };
      await rejectsWith(savepoints.complete(id, taken, INFO('live-job')), 'WEIR_SNAPSHOT_MISSING', /'ks\/counter\/1'/);
      assert.deepEqual(await savepoints.list(), []);
      assert.deepEqual((await stored()).filter((k) => k.includes(id)), [], 'a failed complete leaves nothing');
      const other = newSavepointId();
      await savepoints.prepare(other, 1);
      await snapshots.writeSavepointBlobs(other, 1, [{ name: 'os/src/0', bytes: statePackr.pack({ v: 1, value: 1 }) }]);
      await savepoints.abandon(other, ['os/src/0', 'os/src/1', 'ks/counter/0']);
      assert.deepEqual((await stored()).filter((k) => k.includes(other)), []);
      await rejectsWith(snapshots.writeSavepointBlobs(other, 1, [{ name: 'os/src/1', bytes: statePackr.pack({ v: 1, value: 1 }) }]), 'WEIR_SNAPSHOT_FENCED');
      await rejectsWith(savepoints.complete(other, { ...taken, operators: {} }, INFO('live-job')), 'WEIR_SAVEPOINT_NOT_FOUND', /abandoned/);
    });
  });
}

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
      const sent: { name: string }[] = [];
      const send = spied.sendCommand.bind(spied);
      spied.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
        sent.push(command);
        return (send as (...a: unknown[]) => unknown)(command, ...rest);
      }) as typeof spied.sendCommand;
      const taken: CompletedCheckpoint = {
        formatVersion: 1, id: 1, jobId: 'one-step', attempt: 1, timestamp: 1, completedAt: 2, finished: [], stateBytes: 0, writtenBytes: 0,
        operators: { src: { parallelism: 1, maxParallelism: 1, keyGroups: {}, operatorState: { 0: 'os/src/0' } } },
      };
      const sp = await savepoints.complete(id, taken, INFO('one-step'), { src: bytes.byteLength });
      assert.deepEqual(sent.map((c) => c.name), ['eval']);
      assert.equal(sp.sizeBytes, bytes.byteLength);
      await savepoints.dispose(id);
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
      const sent: { name: string; args: unknown[] }[] = [];
      const send = spied.sendCommand.bind(spied);
      // ioredis sends every command (pipelined ones too) through sendCommand.
      spied.sendCommand = ((command: { name: string; args: unknown[] }, ...rest: unknown[]) => {
        sent.push(command);
        return (send as (...a: unknown[]) => unknown)(command, ...rest);
      }) as typeof spied.sendCommand;
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
});

function canonical(name: string): string {
  const [kind, uid, n] = name.split('/');
  return `${kind}/${uid}/${n}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
