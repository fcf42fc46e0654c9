import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Unpackr } from 'msgpackr';
import type { BlobWrite, SavepointBlobWrite } from '../snapshots/types.js';
import { HeapKeyedState } from './heap-keyed-state.js';
import { applyKeyedDocs, keyedBlobDocs } from './keyed-blob.js';
import { SnapshotStrategy } from './snapshot-strategy.js';

const unpackr = new Unpackr({ moreTypes: true });
const decls = { n: { kind: 'value' as const, initial: undefined } };

function keyedState(maxParallelism: number) {
  const state = new HeapKeyedState(decls, maxParallelism, true);
  const write = (key: string, n: number): void => {
    state.setCurrentKey(key);
    state.write('n', n);
  };
  return { state, write };
}

/** What a store makes of the writes: a chained write is its chain's stored bytes, then its tail. */
function assemble(emitted: readonly SavepointBlobWrite[], stored: ReadonlyMap<string, Uint8Array>): Map<string, Uint8Array> {
  return new Map(emitted.map((w): [string, Uint8Array] => ('chain' in w ? [w.name, Buffer.concat([...w.chain.map((n) => stored.get(n)!), ...(w.tail ? [w.tail] : [])])] : [w.name, w.bytes])));
}

function rowsOf(blobs: ReadonlyMap<string, Uint8Array>): Map<string, unknown> {
  const rows = new Map<string, unknown>();
  for (const [name, bytes] of blobs) {
    const group = new Map<string, unknown>(); // a base starts its key group over
    applyKeyedDocs(keyedBlobDocs(bytes, name, true), group);
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
  assert.deepEqual(Object.fromEntries(Object.entries(sp.snapshot.keyGroups)), Object.fromEntries(groups.map((g) => [g, [`ks/count/${g}`]])));
  for (const w of emitted) {
    assert.ok('chain' in w, `${w.name} is made from the stored chain`);
    assert.match(w.chain[0]!, /1-1-base$/);
  }
  const tails = emitted.filter((w) => 'chain' in w && w.tail);
  assert.ok(tails.length >= 1 && tails.length <= 3, 'a tail only where a key changed');
  const changed = tails.flatMap((w) => (unpackr.unpack((w as { tail: Uint8Array }).tail) as { flat: unknown[] }).flat.filter((_, i) => i % 2 === 0));
  assert.deepEqual(changed.sort(), ['k1', 'k2', 'k3']);

  const made = assemble(emitted, stored);
  const rows = rowsOf(made);
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
  // Its next checkpoint writes a fresh base for a changed key group whose blob held several
  // documents (its size says nothing of the live state), and nothing for the others.
  writeRestored('k1', 2001);
  writeRestored('k50', 2050);
  const afterRestore = restoredStrategy.capture(2, 9);
  const multiDoc = new Set([...made].filter(([, b]) => keyedBlobDocs(b, 'blob', true).length > 1).map(([n]) => n));
  for (const b of afterRestore.blobs) {
    const from = `ks/count/${/\/(\d+)\/2-9-/.exec(b.name)![1]}`;
    assert.match(b.name, multiDoc.has(from) ? /2-9-base$/ : /2-9-delta$/, `${b.name} (restored from ${from})`);
  }
  assert.ok(afterRestore.blobs.length >= 1 && afterRestore.blobs.length <= 2);

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
  assert.equal(rowsOf(assemble(emitted, new Map())).size, 50);

  strategy.capture(1, 2); // a checkpoint: chains exist now
  write('k1', 7);
  const packed = strategy.capture(1, 3, 'savepoint');
  assert.ok(packed.blobs.every((b: BlobWrite) => b.name.startsWith('ks/count/')));
  const rows = rowsOf(new Map(packed.blobs.map((b) => [b.name, b.bytes])));
  assert.equal(rows.size, 50);
  assert.deepEqual(rows.get('k1'), { n: 7 });
});

test('a blob of several documents must start with a base and have this format in each', () => {
  const { state, write } = keyedState(1);
  const strategy = new SnapshotStrategy(state, 'count', 0, 4);
  write('a', 1);
  const [base] = strategy.capture(1, 1).blobs;
  write('a', 2);
  const [delta] = strategy.capture(1, 2).blobs;
  assert.deepEqual(rowsOf(new Map([['x', Buffer.concat([base!.bytes, delta!.bytes])]])).get('a'), { n: 2 });
  assert.throws(() => keyedBlobDocs(Buffer.concat([delta!.bytes, base!.bytes]), 'x', true), /does not start with a full base/);
  assert.throws(() => keyedBlobDocs(Buffer.concat([base!.bytes, new Uint8Array([0xc1])]), 'x', true), (e: Error & { code?: string }) => e.code === 'WEIR_SNAPSHOT_CORRUPT');
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
