/**
 * One contract suite run against every SavepointStore, each paired with its snapshot store (the
 * backends: savepoint-store-fixtures.ts): create, list, dispose, export and import, materialize.
 * Detached savepoints: savepoint-detached.test.ts; what only one backend does:
 * savepoint-store-backends.test.ts; the export format and chain merging: savepoint-format.test.ts.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { decodeExport, encodeExport } from './export-format.js';
import { keyGroupBlob, operatorStateBlob } from './names.js';
import { savepointBlobNames } from './savepoint-names.js';
import { SAVEPOINT_FORMAT_VERSION } from './savepoint-types.js';
import { canonical, escapeRegExp, fileBackend, INFO, redisBackend, savepointBlobs, statePackr, T, writeCheckpoint } from './savepoint-store-fixtures.js';
import { exportFile, rejectsWith, ROWS } from './store-testing.js';

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
  });
}
