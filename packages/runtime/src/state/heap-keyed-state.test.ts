import assert from 'node:assert/strict';
import { test } from 'node:test';
import { valueState } from '@weir/sdk';
import { keyGroupOf, keyId } from '../keygroups.js';
import { HeapKeyedState } from './heap-keyed-state.js';

/** A deterministic pseudo-random sequence (xorshift32), so a failure replays. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

/**
 * The recent-keys cache must never change what the state holds or marks dirty. Many more keys
 * than cache slots (so slots are shared and evicted), checked against a plain model after random
 * writes, removals, checkpoints (clearDirty) and group replacements (putGroup, as a restore does).
 */
test('rows and dirty sets equal a plain model under writes, removals, snapshots and restores', () => {
  const maxParallelism = 128;
  const state = new HeapKeyedState({ n: valueState(0), m: valueState(0) }, maxParallelism, true);
  const model = new Map<string, Record<string, unknown>>();
  let dirty = new Set<string>();
  const random = rng(7);
  const keys = Array.from({ length: 20_000 }, (_, i) => (i % 3 === 0 ? i : `k${i}`));
  const check = () => {
    assert.equal(state.size, model.size);
    for (const [id, row] of model) assert.deepEqual(state.groups.get(keyGroupOf(id, maxParallelism))?.get(id), row, `row of ${id}`);
    const marked = new Set<string>();
    for (const [group, marks] of state.dirty) {
      for (const [id, row] of marks) {
        marked.add(id);
        // The entry holds the key's live row (what a checkpoint packs), or undefined once removed.
        assert.equal(row, state.groups.get(group)?.get(id), `dirty entry of ${id}`);
        assert.deepEqual(row, model.get(id), `dirty row of ${id}`);
      }
    }
    assert.deepEqual([...marked].sort(), [...dirty].sort());
  };
  for (let step = 0; step < 200_000; step++) {
    // Skewed choice: a hot set of keys (cache hits) and a long tail (evictions).
    const key = keys[random() < 0.7 ? Math.floor(random() * 50) : Math.floor(random() * keys.length)]!;
    const id = keyId(key);
    state.setCurrentKey(key);
    const op = random();
    if (op < 0.6) {
      const v = ((state.read('n') as number | undefined) ?? 0) + 1;
      state.write('n', v);
      model.set(id, { ...model.get(id), n: v });
      dirty.add(id);
    } else if (op < 0.7) {
      state.write('m', step);
      model.set(id, { ...model.get(id), m: step });
      dirty.add(id);
    } else if (op < 0.85) {
      state.remove('n');
      const row = model.get(id);
      if (row && 'n' in row) {
        const { n: _n, ...rest } = row;
        if (Object.keys(rest).length === 0) model.delete(id);
        else model.set(id, rest);
        dirty.add(id);
      }
    } else {
      assert.deepEqual(state.read('n'), model.get(id)?.n);
    }
    if (step % 20_000 === 19_999) {
      check();
      state.clearDirty();
      dirty = new Set();
    }
    if (step % 50_000 === 49_999) {
      // A restore replaces a group's rows with new objects: cached rows must not survive it.
      const g = Math.floor(random() * maxParallelism);
      const rows = new Map<string, Record<string, unknown>>();
      for (const [kid, row] of model) if (keyGroupOf(kid, maxParallelism) === g) rows.set(kid, row);
      // The state gets its own copies: it changes rows in place, the model must not see that.
      state.putGroup(g, new Map([...rows].map(([kid, row]) => [kid, { ...row }])));
    }
  }
  check();
});
