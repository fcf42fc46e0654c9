import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Unpackr } from 'msgpackr';
import type { BlobWrite, SavepointBlobWrite } from '../snapshots/types.js';
import { HeapKeyedState } from './heap-keyed-state.js';
import { chainedWriteParts, MAX_SAVEPOINT_PARTS } from '../snapshots/savepoint-names.js';
import { applyKeyedBlob, joinPackedRows, packRows, readKeyedBlob } from './keyed-blob.js';
import { MAX_PREPACKED_RUNS, PREPACK_MIN_ROWS, SnapshotStrategy } from './snapshot-strategy.js';

const unpackr = new Unpackr({ moreTypes: true });
/** A time budget for packing ahead that never ends a pass early: the counts below must not depend on the machine's speed. */
const UNBOUNDED = 60_000;
const decls = { n: { kind: 'value' as const, initial: undefined } };

function keyedState(maxParallelism: number) {
  const state = new HeapKeyedState(decls, maxParallelism, true);
  const write = (key: string, n: number): void => {
    state.setCurrentKey(key);
    state.write('n', n);
  };
  return { state, write };
}

/** What a store makes of the writes: a chained write's parts are its chain's stored blobs, then its tail. */
function assemble(emitted: readonly SavepointBlobWrite[], stored: ReadonlyMap<string, Uint8Array>): Map<string, Uint8Array> {
  const made = new Map<string, Uint8Array>();
  for (const w of emitted) {
    if (!('chain' in w)) {
      made.set(w.name, w.bytes);
      continue;
    }
    const parts = chainedWriteParts(w);
    w.chain.forEach((n, i) => made.set(parts[i]!, stored.get(n)!));
    if (w.tail) made.set(parts[parts.length - 1]!, w.tail);
  }
  return made;
}

/** Every key's row, applying each key group's blobs (`chains`) in order, as a restore does. */
function rowsOf(chains: Readonly<Record<number, readonly string[]>>, blobs: ReadonlyMap<string, Uint8Array>): Map<string, unknown> {
  const rows = new Map<string, unknown>();
  for (const chain of Object.values(chains)) {
    const group = new Map<string, unknown>();
    chain.forEach((name, i) => applyKeyedBlob(readKeyedBlob(blobs.get(name)!, name, i === 0), group));
    for (const [k, v] of group) rows.set(k, v);
  }
  return rows;
}

test('a detached savepoint capture hands over each key group as its stored chain plus the changed rows, and leaves the chains alone', () => {
  const { state, write } = keyedState(16);
  const strategy = new SnapshotStrategy(state, 'count', 0, 4);
  for (let i = 0; i < 200; i++) write(`k${i}`, i);
  const first = strategy.capture(1, 1);
  assert.ok(first.blobs.every((b) => b.name.endsWith('1-1-base')));
  const stored = new Map(first.blobs.map((b) => [b.name, b.bytes]));
  write('k1', 1001);
  write('k2', 1002);
  state.setCurrentKey('k3');
  state.remove('n'); // the row is empty: k3 is removed

  const emitted: SavepointBlobWrite[] = [];
  const sp = strategy.capture(1, 2, 'savepoint', (b) => emitted.push(b));
  assert.deepEqual(sp.blobs, [], 'handed over through emit, not returned');
  const groups = [...state.groups.keys()].sort((a, b) => a - b);
  assert.deepEqual(emitted.map((b) => b.name).sort(), groups.map((g) => `ks/count/${g}`).sort());
  for (const w of emitted) {
    assert.ok('chain' in w, `${w.name} is made from the stored chain`);
    assert.match(w.chain[0]!, /1-1-base$/);
    // The snapshot names the parts: the base's copy, then the tail where a key changed.
    assert.deepEqual(sp.snapshot.keyGroups[Number(w.name.split('/')[2])], w.tail ? [w.name, `${w.name}/1`] : [w.name]);
  }
  const tails = emitted.filter((w) => 'chain' in w && w.tail);
  assert.ok(tails.length >= 1 && tails.length <= 3, 'a tail only where a key changed');
  const changed = tails.flatMap((w) => (unpackr.unpack((w as { tail: Uint8Array }).tail) as { flat: unknown[] }).flat.filter((_, i) => i % 2 === 0));
  assert.deepEqual(changed.sort(), ['k1', 'k2', 'k3']);

  const made = assemble(emitted, stored);
  const rows = rowsOf(sp.snapshot.keyGroups, made);
  assert.equal(rows.size, 199);
  assert.deepEqual(rows.get('k2'), { n: 1002 });
  assert.equal(rows.has('k3'), false);

  // A job restored from those blobs has the same state.
  const { state: restored, write: writeRestored } = keyedState(16);
  const restoredStrategy = new SnapshotStrategy(restored, 'count', 0, 4);
  restoredStrategy.restore(sp.snapshot, () => true, made);
  assert.equal(restored.size, 199);
  restored.setCurrentKey('k1');
  assert.equal(restored.read('n'), 1001);
  // Its chains are the parts: its next checkpoint is a delta on them.
  writeRestored('k1', 2001);
  const afterRestore = restoredStrategy.capture(2, 9);
  assert.equal(afterRestore.blobs.length, 1);
  assert.match(afterRestore.blobs[0]!.name, /2-9-delta$/);

  // The next checkpoint is still a delta of checkpoint 1 with exactly the changed keys.
  const next = strategy.capture(1, 3);
  assert.ok(next.blobs.every((b) => b.name.endsWith('1-3-delta')), 'deltas, not new bases');
  const inDeltas = next.blobs.flatMap((b) => (unpackr.unpack(b.bytes) as { flat: unknown[] }).flat.filter((_, i) => i % 2 === 0));
  assert.deepEqual(inDeltas.sort(), ['k1', 'k2', 'k3']);
  for (const chain of Object.values(next.snapshot.keyGroups)) assert.match(chain[0]!, /1-1-base$/);
});

test('a detached savepoint packs full bases where nothing is stored yet, and without emit', () => {
  const { state, write } = keyedState(16);
  const strategy = new SnapshotStrategy(state, 'count', 0, 4);
  for (let i = 0; i < 50; i++) write(`k${i}`, i);
  const emitted: SavepointBlobWrite[] = [];
  strategy.capture(1, 1, 'savepoint', (b) => emitted.push(b));
  assert.ok(emitted.length > 0 && emitted.every((w) => 'bytes' in w), 'no chain yet: full bases');
  assert.equal(rowsOf(Object.fromEntries(emitted.map((w, i) => [i, [w.name]])), assemble(emitted, new Map())).size, 50);

  strategy.capture(1, 2); // a checkpoint: chains exist now
  write('k1', 7);
  const packed = strategy.capture(1, 3, 'savepoint');
  assert.ok(packed.blobs.every((b: BlobWrite) => b.name.startsWith('ks/count/')));
  const rows = rowsOf(packed.snapshot.keyGroups, new Map(packed.blobs.map((b) => [b.name, b.bytes])));
  assert.equal(rows.size, 50);
  assert.deepEqual(rows.get('k1'), { n: 7 });
});

test('a keyed blob is one document of this format; a chain starts with a base', () => {
  const { state, write } = keyedState(1);
  const strategy = new SnapshotStrategy(state, 'count', 0, 4);
  write('a', 1);
  const [base] = strategy.capture(1, 1).blobs;
  write('a', 2);
  const [delta] = strategy.capture(1, 2).blobs;
  assert.deepEqual(rowsOf({ 0: ['b', 'd'] }, new Map([['b', base!.bytes], ['d', delta!.bytes]])).get('a'), { n: 2 });
  assert.throws(() => readKeyedBlob(delta!.bytes, 'x', true), /does not start with a full base/);
  assert.throws(() => readKeyedBlob(Buffer.concat([base!.bytes, delta!.bytes]), 'x', true), /holds 2 documents/);
  assert.throws(() => readKeyedBlob(Buffer.concat([base!.bytes, new Uint8Array([0xc1])]), 'x', true), (e: Error & { code?: string }) => e.code === 'WEIR_SNAPSHOT_CORRUPT');
});

test('a chain too long for a savepoint key group is packed as one base instead', () => {
  const { state, write } = keyedState(1);
  const strategy = new SnapshotStrategy(state, 'count', 0, MAX_SAVEPOINT_PARTS + 5);
  for (let i = 0; i < 1000; i++) write(`k${i}`, i); // a large base, so small deltas keep the chain going
  for (let cp = 1; cp <= MAX_SAVEPOINT_PARTS; cp++) {
    write('a', cp);
    strategy.capture(1, cp);
  }
  write('a', 999);
  const emitted: SavepointBlobWrite[] = [];
  const sp = strategy.capture(1, 100, 'savepoint', (b) => emitted.push(b));
  assert.equal(emitted.length, 1);
  assert.ok('bytes' in emitted[0]!, 'packed, not chained');
  assert.deepEqual(sp.snapshot.keyGroups[0], ['ks/count/0']);
  // One delta fewer and it is chained: the base, MAX - 2 deltas and the tail.
  const { state: s2, write: w2 } = keyedState(1);
  const shorter = new SnapshotStrategy(s2, 'count', 0, MAX_SAVEPOINT_PARTS + 5);
  for (let i = 0; i < 1000; i++) w2(`k${i}`, i);
  for (let cp = 1; cp < MAX_SAVEPOINT_PARTS; cp++) {
    w2('a', cp);
    shorter.capture(1, cp);
  }
  w2('a', 999);
  const chained: SavepointBlobWrite[] = [];
  const sp2 = shorter.capture(1, 100, 'savepoint', (b) => chained.push(b));
  assert.ok('chain' in chained[0]!);
  assert.equal(sp2.snapshot.keyGroups[0]!.length, MAX_SAVEPOINT_PARTS);
});

test('a detached savepoint of non-keyed state keeps its dirty mark for the next checkpoint', () => {
  const state = new HeapKeyedState({ total: { kind: 'value', initial: 0 } }, 1, false);
  const strategy = new SnapshotStrategy(state, 'sum', 3, 4);
  state.write('total', 5);
  const sp = strategy.capture(2, 7, 'savepoint');
  assert.deepEqual(sp.blobs.map((b) => b.name), ['os/sum/3']);
  assert.equal(sp.snapshot.operatorState, 'os/sum/3');
  const cp = strategy.capture(2, 8);
  assert.deepEqual(cp.blobs.map((b) => b.name), ['os/sum/3/2-8']);
});

test('a lazy restore decodes each key group on first use or by decodeSome, and reads, writes and captures as an eager one does', () => {
  // Random writes, removals and checkpoints on one state, then the same chains restored eagerly
  // and lazily: every read, every capture and the final rows agree, whatever is decoded when.
  let seed = 7;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const { state, write } = keyedState(32);
  const strategy = new SnapshotStrategy(state, 'count', 0, 3);
  const stored = new Map<string, Uint8Array>();
  let snapshot = strategy.capture(1, 1).snapshot;
  for (let cp = 2; cp <= 6; cp++) {
    for (let i = 0; i < 300; i++) {
      const key = `k${Math.floor(random() * 400)}`;
      if (random() < 0.15) {
        state.setCurrentKey(key);
        state.remove('n');
      } else write(key, Math.floor(random() * 1000));
    }
    const c = strategy.capture(1, cp);
    for (const b of c.blobs) stored.set(b.name, b.bytes);
    snapshot = c.snapshot;
  }
  const eager = keyedState(32);
  const lazy = keyedState(32);
  const eagerStrategy = new SnapshotStrategy(eager.state, 'count', 0, 3);
  const lazyStrategy = new SnapshotStrategy(lazy.state, 'count', 0, 3);
  eagerStrategy.restore(snapshot, () => true, stored);
  lazyStrategy.restore(snapshot, () => true, stored, true);
  const groups = Object.keys(snapshot.keyGroups).length;
  assert.ok(groups > 20);
  assert.equal(lazy.state.undecodedGroups, groups, 'nothing decoded by the restore');
  assert.equal(lazy.state.groups.size, 0);
  for (let i = 0; i < 500; i++) {
    const key = `k${Math.floor(random() * 25) * 17}`; // a few keys: some key groups stay unused
    for (const side of [eager, lazy]) side.state.setCurrentKey(key);
    assert.deepEqual(lazy.state.read('n'), eager.state.read('n'), key);
    if (random() < 0.3) for (const side of [eager, lazy]) side.write(key, i);
    if (i === 100) assert.equal(lazy.state.decodeSome(3), lazy.state.undecodedGroups);
    if (i % 150 === 149) {
      // An incremental capture writes the same deltas: undecoded key groups have none.
      const e = eagerStrategy.capture(2, 100 + i);
      const l = lazyStrategy.capture(2, 100 + i);
      assert.deepEqual(l.snapshot, e.snapshot);
      assert.deepEqual(l.blobs.map((b) => [b.name, Buffer.from(b.bytes)]), e.blobs.map((b) => [b.name, Buffer.from(b.bytes)]));
    }
  }
  assert.ok(lazy.state.undecodedGroups > 0, 'some key groups were never used');
  // A full capture decodes the rest first: the same bases.
  const e = eagerStrategy.capture(2, 900, 'full');
  const l = lazyStrategy.capture(2, 900, 'full');
  assert.equal(lazy.state.undecodedGroups, 0);
  assert.deepEqual(l.blobs.map((b) => [b.name, Buffer.from(b.bytes)]), e.blobs.map((b) => [b.name, Buffer.from(b.bytes)]));
  assert.equal(lazy.state.size, eager.state.size);
});

test('a lazy restore of a corrupt blob fails when its key group is first used, with WEIR_SNAPSHOT_CORRUPT', () => {
  const { state, write } = keyedState(4);
  const strategy = new SnapshotStrategy(state, 'count', 0, 3);
  for (let i = 0; i < 20; i++) write(`k${i}`, i);
  const c = strategy.capture(1, 1);
  const blobs = new Map(c.blobs.map((b) => [b.name, b.bytes]));
  const [name] = [...blobs.keys()];
  blobs.set(name!, Uint8Array.from([0xc1]));
  const lazy = keyedState(4);
  new SnapshotStrategy(lazy.state, 'count', 0, 3).restore(c.snapshot, () => true, blobs, true);
  assert.throws(() => lazy.state.decodeAll(), (e: { code?: string }) => e.code === 'WEIR_SNAPSHOT_CORRUPT');
});

test('runs of rows packed apart join into one blob that applies as the runs would, in order', () => {
  const runs = [
    new Map<string, unknown>([['a', { n: 1 }], ['b', { n: new Map([[1, 'x']]) }], ['c', undefined]]),
    new Map<string, unknown>([['a', { n: 2, m: 'later' }], ['c', { n: [1, 2] }], ['d', undefined]]),
    // More row shapes than records have slots, and a run of one key.
    new Map<string, unknown>(Array.from({ length: 80 }, (_, i) => [`s${i}`, { [`f${i}`]: i }])),
    new Map<string, unknown>([['b', undefined]]),
  ];
  // A run owns its bytes: a view would keep msgpackr's shared output buffer until the next capture.
  for (const run of runs.map(packRows)) assert.equal(run.bytes.buffer.byteLength, run.bytes.byteLength);
  for (const base of [true, false]) {
    const blob = joinPackedRows(runs.map(packRows), base);
    const doc = readKeyedBlob(blob, 'joined', base);
    assert.equal(doc.base, base);
    assert.equal(doc.flat!.length, 2 * runs.reduce((n, r) => n + r.size, 0));
    const want = new Map<string, unknown>([['stale', { n: 0 }]]);
    if (base) want.clear();
    for (const run of runs) for (const [k, v] of run) (v === undefined ? want.delete(k) : want.set(k, v));
    const got = new Map<string, unknown>([['stale', { n: 0 }]]);
    applyKeyedBlob(doc, got);
    assert.deepEqual([...got].sort(([a], [b]) => a.localeCompare(b)), [...want].sort(([a], [b]) => a.localeCompare(b)));
  }
});

test('rows packed ahead: every capture, savepoint and restore holds exactly the state, as without packing ahead', () => {
  const random = ((x: number) => () => ((x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0), x / 0x1_0000_0000))(11);
  const { state, write } = keyedState(32);
  const strategy = new SnapshotStrategy(state, 'count', 0, 4);
  const model = new Map<string, unknown>();
  /** The job's stored blobs (every checkpoint's), and the last completed checkpoint's chains. */
  const stored = new Map<string, Uint8Array>();
  let packedAhead = 0;
  /** Bytes of runs the captures joined, as they report them (checkpoint stats). */
  let joined = 0;
  const restoredRows = (snapshot: Parameters<SnapshotStrategy['restore']>[0], blobs: ReadonlyMap<string, Uint8Array>) => {
    const { state: other } = keyedState(32);
    new SnapshotStrategy(other, 'count', 0, 4).restore(snapshot, () => true, blobs);
    const rows = new Map<string, unknown>();
    for (const group of other.groups.values()) for (const [k, row] of group) rows.set(k, row.n);
    return rows;
  };
  const sorted = (m: Map<string, unknown>) => [...m].sort(([a], [b]) => a.localeCompare(b));
  for (let round = 0; round < 60; round++) {
    for (let op = 0; op < 1500; op++) {
      const key = `k${Math.floor(random() * 4000)}`;
      const r = random();
      if (r < 0.8) {
        // Plain values and, now and then, a Map (packed as a msgpack map, not a record).
        const v = r < 0.05 ? new Map([[op, round]]) : Math.floor(random() * 1000);
        write(key, v as number);
        model.set(key, v);
      } else {
        state.setCurrentKey(key);
        state.remove('n');
        model.delete(key);
      }
    }
    packedAhead += strategy.prepack(UNBOUNDED);
    const kind = round % 7 === 6 ? 'full' : round % 3 === 2 ? 'savepoint' : round % 2 === 1 ? 'incremental' : undefined;
    if (kind === undefined) continue; // several runs before the next capture
    if (kind === 'savepoint') {
      const emitted: SavepointBlobWrite[] = [];
      const sp = strategy.capture(1, round, 'savepoint', (b) => emitted.push(b));
      joined += sp.packedAheadBytes ?? 0;
      assert.ok((sp.packedAheadBytes ?? 0) <= sp.writtenBytes);
      assert.deepEqual(sorted(restoredRows(sp.snapshot, assemble(emitted, stored))), sorted(model), `savepoint of round ${round}`);
      continue;
    }
    const cp = strategy.capture(1, round, kind);
    joined += cp.packedAheadBytes ?? 0;
    assert.ok((cp.packedAheadBytes ?? 0) <= cp.writtenBytes);
    if (kind === 'full') assert.equal(cp.packedAheadBytes, 0, 'a full capture packs from the rows');
    for (const b of cp.blobs) stored.set(b.name, b.bytes);
    assert.deepEqual(sorted(restoredRows(cp.snapshot, stored)), sorted(model), `${kind} checkpoint of round ${round}`);
    assert.equal(state.dirty.size, 0);
  }
  assert.ok(packedAhead > 10_000, `rows were packed ahead (${packedAhead})`);
  assert.ok(joined > 0, 'captures report the runs they joined');
});

test('packing ahead waits for enough changed keys, and packs a key group at most so often between captures', () => {
  const { state, write } = keyedState(8);
  const strategy = new SnapshotStrategy(state, 'count', 0, 4);
  for (let i = 0; i < PREPACK_MIN_ROWS - 1; i++) write(`k${i}`, i);
  assert.equal(strategy.prepack(UNBOUNDED), 0, 'below the threshold');
  assert.equal(state.dirty.size > 0, true);
  write('one-more', 1);
  assert.equal(strategy.prepack(UNBOUNDED), PREPACK_MIN_ROWS);
  assert.equal(state.dirty.size, 0, 'the packed keys are no longer marked');
  // New keys each time: the runs never hold more rows than the key groups have keys.
  for (let run = 1; run < MAX_PREPACKED_RUNS; run++) {
    for (let i = 0; i < PREPACK_MIN_ROWS; i++) write(`r${run}-${i}`, run);
    assert.equal(strategy.prepack(UNBOUNDED), PREPACK_MIN_ROWS);
  }
  for (let i = 0; i < PREPACK_MIN_ROWS; i++) write(`last-${i}`, -1);
  assert.equal(strategy.prepack(UNBOUNDED), 0, 'every key group has its runs');
  const cp = strategy.capture(1, 1);
  assert.equal(cp.blobs.length, 8, 'a base per key group');
  strategy.prepack(UNBOUNDED);
  for (let i = 0; i < PREPACK_MIN_ROWS; i++) write(`k${i}`, 7);
  assert.equal(strategy.prepack(UNBOUNDED), PREPACK_MIN_ROWS, 'a capture starts the runs over');
});

test('hot keys: a key group whose marked keys are mostly in its runs already is left to the capture', () => {
  const { state, write } = keyedState(1); // one key group
  const strategy = new SnapshotStrategy(state, 'count', 0, 4);
  for (let i = 0; i < 10_000; i++) write(`k${i}`, 0);
  strategy.capture(1, 1); // the base
  // A hot fifth of the keys changes before every pass (a key group far larger than its hot keys).
  const hot = PREPACK_MIN_ROWS + 100;
  for (let pass = 1; pass <= 5; pass++) {
    for (let i = 0; i < hot; i++) write(`k${i}`, pass);
    if (pass === 3) for (let i = 0; i < 10; i++) write(`k${9000 + i}`, pass); // a few others too
    assert.equal(strategy.prepack(UNBOUNDED), pass === 1 ? hot : 0, `pass ${pass}`);
  }
  const cp = strategy.capture(1, 2);
  const delta = readKeyedBlob(cp.blobs[0]!.bytes, 'delta', false);
  assert.equal(delta.flat!.length / 2, 2 * hot + 10, 'the first run, then the keys marked since: not one run per pass');
  const rows = new Map<string, unknown>();
  applyKeyedBlob(delta, rows);
  assert.deepEqual(rows.get('k7'), { n: 5 });
  assert.deepEqual(rows.get('k9003'), { n: 3 });
  // The capture starts over: the next pass packs again.
  for (let i = 0; i < hot; i++) write(`k${i}`, 6);
  assert.equal(strategy.prepack(UNBOUNDED), hot);
});

test('a pass packs new keys beside a few repeated ones', () => {
  const { state, write } = keyedState(1);
  const strategy = new SnapshotStrategy(state, 'count', 0, 4);
  for (let i = 0; i < 20_000; i++) write(`k${i}`, 0);
  strategy.capture(1, 1);
  for (let i = 0; i < 3000; i++) write(`k${i}`, 1);
  assert.equal(strategy.prepack(UNBOUNDED), 3000);
  // 1,000 keys again and 2,000 new ones: fewer repeated than new, so packed.
  for (let i = 2000; i < 5000; i++) write(`k${i}`, 2);
  assert.equal(strategy.prepack(UNBOUNDED), 3000);
  // Now 3,000 repeated and 1,000 new: left to the capture.
  for (let i = 1000; i < 5000; i++) write(`k${i}`, 3);
  assert.equal(strategy.prepack(UNBOUNDED), 0);
  const delta = readKeyedBlob(strategy.capture(1, 2).blobs[0]!.bytes, 'delta', false);
  assert.equal(delta.flat!.length / 2, 3000 + 3000 + 4000);
});
