/**
 * Detached savepoints against every SavepointStore (savepoint-store-fixtures.ts): workers write the
 * blobs while the savepoint is prepared, complete records them (checked against the bytes the
 * workers reported), abandon deletes them; writes are fenced afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { applyKeyedBlob, readKeyedBlob } from '../state/keyed-blob.js';
import { keyGroupBlob } from './names.js';
import { chainedWriteParts, newSavepointId } from './savepoint-names.js';
import { chainReferences, fileBackend, INFO, redisBackend, savepointBlobs, statePackr, T, writeCheckpoint } from './savepoint-store-fixtures.js';
import { rejectsWith, ROWS } from './store-testing.js';
import type { CompletedCheckpoint } from './types.js';

for (const backend of [redisBackend(), fileBackend()]) {
  describe(`${backend.name} (contract)`, () => {
    before(() => backend.before());
    after(() => backend.after());
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

    test('orphans: what a savepoint never completed left (its coordinator died) is deleted once untouched for the age; one being taken here, a completed one and a recent one are kept', T, async () => {
      const side = await backend.fresh();
      const { snapshots, stored } = side;
      const dead = side.savepoints; // the coordinator that dies: it never completes what it prepared
      const live = side.another(); // the one started after it
      const blob = (name: string, n: number): { name: string; bytes: Uint8Array } => ({ name, bytes: statePackr.pack({ v: 1, base: true, flat: [`k${n}`, { count: n }] }) });
      const taken = (id: string): Promise<unknown> => snapshots.writeSavepointBlobs(id, 1, [blob('ks/counter/0', 1)]);
      const [orphan, beingTaken, completed, recent] = [newSavepointId(), newSavepointId(), newSavepointId(), newSavepointId()];
      for (const id of [orphan, completed]) {
        await dead.prepare(id, 1);
        await taken(id);
      }
      const checkpoint: CompletedCheckpoint = {
        formatVersion: 1, id: 9, jobId: 'j', attempt: 1, timestamp: 1, completedAt: 2, finished: [], stateBytes: 0, writtenBytes: 0,
        operators: { counter: { parallelism: 1, maxParallelism: 8, keyGroups: { 0: ['ks/counter/0'] }, operatorState: {} } },
      };
      await dead.complete(completed, checkpoint, INFO('j'));
      await live.prepare(beingTaken, 1);
      await taken(beingTaken);
      const of = async (id: string): Promise<number> => (await stored()).filter((k) => k.includes(id)).length;
      assert.deepEqual(await live.sweepOrphans(60_000), [], 'nothing is that old yet');
      await new Promise((r) => setTimeout(r, 2_100));
      await dead.prepare(recent, 1);
      await taken(recent);
      assert.deepEqual(await live.sweepOrphans(1_000), [orphan]);
      assert.equal(await of(orphan), 0, 'the orphan is gone, fence included');
      assert.ok((await of(beingTaken)) > 0 && (await of(recent)) > 0);
      await rejectsWith(snapshots.writeSavepointBlobs(orphan, 1, [blob('ks/counter/1', 2)]), 'WEIR_SNAPSHOT_FENCED');
      // The savepoint this store is taking completes as if nothing happened; the completed one reads whole.
      assert.equal((await live.complete(beingTaken, checkpoint, INFO('j'))).id, beingTaken);
      assert.equal((await savepointBlobs(live, completed)).size, 1);
      assert.deepEqual((await live.list()).map((m) => m.id).sort(), [beingTaken, completed].sort());
      // The recent one is an orphan too once it is old enough.
      await new Promise((r) => setTimeout(r, 2_100));
      assert.deepEqual(await live.sweepOrphans(1_000), [recent]);
      assert.equal(await of(recent), 0);
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
      await rejectsWith(snapshots.writeSavepointChains('chained-job', id, 1, [{ name: 'ks/counter/3', chain: [keyGroupBlob('counter', 3, 1, 5, 'base')], tail }]), 'WEIR_SNAPSHOT_MISSING', /counter\/3\/1-5-base/);
      // Refused writes leave no tail behind.
      assert.deepEqual((await stored()).filter((k) => k.includes(id) && /stage:|blob:/.test(k)), []);
      const parts1 = chainedWriteParts(writes[0]!);
      assert.deepEqual(parts1, ['ks/counter/1', ...g1.map((_, i) => `ks/counter/1/${i + 1}`)]);
      const expected = new Map<string, Buffer>([...g1.map((n, i): [string, Buffer] => [parts1[i]!, Buffer.from(blobs.get(n)!)]), [parts1[g1.length]!, Buffer.from(tail)], ['ks/counter/0', Buffer.from(blobs.get(g0[0]!)!)]]);
      const total = [...expected.values()].reduce((n, b) => n + b.length, 0);
      assert.equal(await snapshots.writeSavepointChains('chained-job', id, 1, writes), total);
      const taken: CompletedCheckpoint = {
        formatVersion: 1, id: 6, jobId: 'chained-job', attempt: 1, timestamp: 1, completedAt: 2, finished: [], stateBytes: 0, writtenBytes: 0,
        operators: { counter: { parallelism: 1, maxParallelism: 8, keyGroups: { 0: ['ks/counter/0'], 1: parts1 }, operatorState: {} } },
      };
      // Recorded as the coordinator does: the workers' bytes, and the chains the parts are made of.
      const sp = await savepoints.complete(id, taken, INFO('chained-job'), { counter: total }, chainReferences('chained-job', writes));
      await savepoints.copyReferences(id);
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
