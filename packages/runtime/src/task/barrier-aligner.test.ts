import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BarrierAligner, type AlignerResult } from './barrier-aligner.js';

const b = (id: number) => ({ id, timestamp: 1000 + id });

function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

describe('BarrierAligner exactly-once', () => {
  test('snapshots only when the barrier has arrived on every channel, in every order, blocking the channels that delivered it', () => {
    const channels = ['0/0', '0/1', '1/0'];
    for (const order of permutations(channels)) {
      const a = new BarrierAligner(channels, 'exactly-once');
      order.forEach((c, i) => {
        const r = a.onBarrier(c, b(1), 10 * i);
        if (i < order.length - 1) {
          assert.deepEqual(r, { kind: 'none' }, `order ${order.join(',')}`);
          for (const seen of order.slice(0, i + 1)) assert.equal(a.isBlocked(seen), true);
          for (const unseen of order.slice(i + 1)) assert.equal(a.isBlocked(unseen), false);
        } else {
          assert.deepEqual(r, { kind: 'snapshot', barrier: b(1), alignmentMs: 10 * i, firstBarrierAt: 0 });
        }
      });
      for (const c of channels) assert.equal(a.isBlocked(c), false, 'released after the snapshot');
    }
  });

  test('a single channel snapshots at once with no alignment time', () => {
    const a = new BarrierAligner(['0/0'], 'exactly-once');
    assert.deepEqual(a.onBarrier('0/0', b(1), 5), { kind: 'snapshot', barrier: b(1), alignmentMs: 0, firstBarrierAt: 5 });
    assert.equal(a.isBlocked('0/0'), false);
  });

  test('consecutive checkpoints align one after the other; stale and repeated barriers are ignored', () => {
    const a = new BarrierAligner(['a', 'b'], 'exactly-once');
    a.onBarrier('a', b(1), 0);
    assert.equal(a.onBarrier('b', b(1), 1).kind, 'snapshot');
    assert.deepEqual(a.onBarrier('a', b(1), 2), { kind: 'none' }, 'stale barrier');
    assert.equal(a.isBlocked('a'), false);
    assert.deepEqual(a.onBarrier('b', b(2), 3), { kind: 'none' });
    assert.deepEqual(a.onBarrier('b', b(2), 4), { kind: 'none' }, 'repeated barrier');
    assert.equal(a.aligning, 2);
    assert.equal(a.onBarrier('a', b(2), 5).kind, 'snapshot');
  });

  test('a channel that ends counts as having delivered the barrier', () => {
    const a = new BarrierAligner(['a', 'b', 'c'], 'exactly-once');
    a.onBarrier('a', b(1), 0);
    a.onBarrier('b', b(1), 0);
    assert.deepEqual(a.onEndOfChannel('c', 7), { kind: 'snapshot', barrier: b(1), alignmentMs: 7, firstBarrierAt: 0 });
    // After c ended, checkpoints need only a and b.
    a.onBarrier('a', b(2), 10);
    assert.equal(a.onBarrier('b', b(2), 11).kind, 'snapshot');
    assert.deepEqual(a.onBarrier('c', b(3), 12), { kind: 'none' }, 'an ended channel brings nothing');
  });

  test('a channel that ends before any barrier is not waited for; the end of a blocked channel keeps the others aligned', () => {
    const a = new BarrierAligner(['a', 'b', 'c'], 'exactly-once');
    assert.deepEqual(a.onEndOfChannel('b', 0), { kind: 'none' });
    assert.deepEqual(a.onEndOfChannel('b', 0), { kind: 'none' }, 'ending twice is harmless');
    a.onBarrier('a', b(1), 0);
    assert.deepEqual(a.onEndOfChannel('a', 1), { kind: 'none' }, 'c has not delivered barrier 1 yet');
    assert.equal(a.onBarrier('c', b(1), 2).kind, 'snapshot');
  });

  test('a newer barrier overtaking the aligned one aborts it and starts aligning the newer one', () => {
    const a = new BarrierAligner(['a', 'b'], 'exactly-once');
    a.onBarrier('a', b(1), 0);
    const r: AlignerResult = a.onBarrier('b', b(2), 5);
    assert.deepEqual(r, { kind: 'abort', barrierId: 1, then: { kind: 'none' } });
    assert.equal(a.isBlocked('a'), false, 'a released: its held frames are replayed');
    assert.equal(a.isBlocked('b'), true);
    assert.equal(a.aligning, 2);
    assert.deepEqual(a.onBarrier('a', b(1), 6), { kind: 'none' }, 'the aborted barrier is stale now');
    assert.deepEqual(a.onBarrier('a', b(2), 9), { kind: 'snapshot', barrier: b(2), alignmentMs: 4, firstBarrierAt: 5 });
  });

  test('abort() by the task releases the channels and makes the id stale', () => {
    const a = new BarrierAligner(['a', 'b'], 'exactly-once');
    a.onBarrier('a', b(4), 0);
    a.abort(4);
    assert.equal(a.isBlocked('a'), false);
    assert.equal(a.aligning, undefined);
    assert.deepEqual(a.onBarrier('b', b(4), 1), { kind: 'none' });
  });
});

describe('BarrierAligner exactly-once, a skipped checkpoint', () => {
  test('an older barrier on a channel not yet blocked is not counted as the one being aligned', () => {
    // Checkpoint 4 was skipped on a's path (a source was not running yet when it was triggered):
    // a brings 5 first, b still brings 4, then its records, then 5.
    const a = new BarrierAligner(['a', 'b'], 'exactly-once');
    assert.deepEqual(a.onBarrier('a', b(5), 0), { kind: 'none' });
    assert.deepEqual(a.onBarrier('b', b(4), 1), { kind: 'none' }, 'no snapshot of 5 before b\'s barrier 5');
    assert.equal(a.isBlocked('b'), false, 'b\'s records up to its barrier 5 are processed before the snapshot');
    assert.deepEqual(a.onBarrier('b', b(5), 3), { kind: 'snapshot', barrier: b(5), alignmentMs: 3, firstBarrierAt: 0 });
  });
});

describe('BarrierAligner at-least-once', () => {
  test('never blocks and snapshots when the last channel delivers the barrier', () => {
    for (const order of permutations(['a', 'b', 'c'])) {
      const a = new BarrierAligner(['a', 'b', 'c'], 'at-least-once');
      order.forEach((c, i) => {
        const r = a.onBarrier(c, b(1), i);
        assert.equal(a.isBlocked(c), false);
        assert.equal(r.kind, i === 2 ? 'snapshot' : 'none');
      });
    }
  });

  test('overlapping checkpoints: the newer completing first drops the older one', () => {
    const a = new BarrierAligner(['a', 'b'], 'at-least-once');
    a.onBarrier('a', b(1), 0);
    a.onBarrier('a', b(2), 1);
    assert.deepEqual(a.onBarrier('b', b(2), 3), { kind: 'snapshot', barrier: b(2), alignmentMs: 2, firstBarrierAt: 1 });
    assert.deepEqual(a.onBarrier('b', b(1), 4), { kind: 'none' });
  });

  test('end of channel completes a tracked checkpoint', () => {
    const a = new BarrierAligner(['a', 'b'], 'at-least-once');
    a.onBarrier('a', b(1), 0);
    assert.equal(a.onEndOfChannel('b', 2).kind, 'snapshot');
  });
});
