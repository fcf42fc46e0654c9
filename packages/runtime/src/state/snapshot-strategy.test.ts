import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Unpackr } from 'msgpackr';
import type { BlobWrite } from '../snapshots/types.js';
import { HeapKeyedState } from './heap-keyed-state.js';
import { SnapshotStrategy } from './snapshot-strategy.js';

const unpackr = new Unpackr({ moreTypes: true });

test('a detached savepoint capture writes full canonical bases as it goes and leaves the incremental chains alone', () => {
  const state = new HeapKeyedState({ n: { kind: 'value', initial: undefined } }, 16, true);
  const strategy = new SnapshotStrategy(state, 'count', 0, 4);
  const write = (key: string, n: number): void => {
    state.setCurrentKey(key);
    state.write('n', n);
  };
  for (let i = 0; i < 200; i++) write(`k${i}`, i);
  const first = strategy.capture(1, 1);
  assert.ok(first.blobs.every((b) => b.name.endsWith('1-1-base')));
  write('k1', 1001);
  write('k2', 1002);

  const emitted: BlobWrite[] = [];
  const sp = strategy.capture(1, 2, 'savepoint', (b) => emitted.push(b));
  assert.deepEqual(sp.blobs, [], 'handed over through emit, not returned');
  const groups = [...state.groups.keys()].sort((a, b) => a - b);
  assert.deepEqual(emitted.map((b) => b.name).sort(), groups.map((g) => `ks/count/${g}`).sort());
  assert.deepEqual(Object.fromEntries(Object.entries(sp.snapshot.keyGroups)), Object.fromEntries(groups.map((g) => [g, [`ks/count/${g}`]])));
  const rows = new Map<string, unknown>();
  for (const b of emitted) {
    const blob = unpackr.unpack(b.bytes) as { v: number; base: boolean; flat: unknown[] };
    assert.equal(blob.base, true);
    for (let i = 0; i < blob.flat.length; i += 2) rows.set(blob.flat[i] as string, blob.flat[i + 1]);
  }
  assert.equal(rows.size, 200);
  assert.deepEqual(rows.get('k2'), { n: 1002 });

  // The next checkpoint is still a delta of checkpoint 1 with exactly the two changed keys.
  const next = strategy.capture(1, 3);
  assert.ok(next.blobs.every((b) => b.name.endsWith('1-3-delta')), 'deltas, not new bases');
  const changed = next.blobs.flatMap((b) => (unpackr.unpack(b.bytes) as { flat: unknown[] }).flat.filter((_, i) => i % 2 === 0));
  assert.deepEqual(changed.sort(), ['k1', 'k2']);
  for (const chain of Object.values(next.snapshot.keyGroups)) assert.match(chain[0]!, /1-1-base$/);
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
