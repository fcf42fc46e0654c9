import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CompletedCheckpoint, SubtaskCheckpointStats, SubtaskSnapshot } from '@weir/runtime';
import { buildCompletedCheckpoint, unreferencedBlobs } from './completed.js';

const stats = (stateBytes: number, writtenBytes: number): SubtaskCheckpointStats => ({ syncMs: 1, asyncMs: 2, alignmentMs: 0, stateBytes, writtenBytes });
const operators = { src: { maxParallelism: 4, parallelism: 2 }, agg: { maxParallelism: 4, parallelism: 2 } };
const base = { jobId: 'job', attempt: 2, timestamp: 1000, completedAt: 1500, operators, finished: [] as string[] };

test('buildCompletedCheckpoint merges the acks per operator and sums the bytes', () => {
  const s0: SubtaskSnapshot = { operators: { src: { keyGroups: {}, operatorState: 'src-0' }, agg: { keyGroups: { 0: ['kg0-base'], 1: ['kg1-base', 'kg1-d1'] } } } };
  const s1: SubtaskSnapshot = { operators: { src: { keyGroups: {}, operatorState: 'src-1' }, agg: { keyGroups: { 2: ['kg2-base'], 3: ['kg3-base'] }, operatorState: 'agg-1' } } };
  const cp = buildCompletedCheckpoint({
    ...base,
    id: 7,
    acks: [
      { subtaskIndex: 1, snapshot: s1, stats: stats(30, 3) },
      { subtaskIndex: 0, snapshot: s0, stats: stats(20, 5) },
    ],
  });
  assert.deepEqual(cp, {
    formatVersion: 1,
    id: 7,
    jobId: 'job',
    attempt: 2,
    timestamp: 1000,
    completedAt: 1500,
    operators: {
      src: { maxParallelism: 4, parallelism: 2, keyGroups: {}, operatorState: { 0: 'src-0', 1: 'src-1' } },
      agg: { maxParallelism: 4, parallelism: 2, keyGroups: { 0: ['kg0-base'], 1: ['kg1-base', 'kg1-d1'], 2: ['kg2-base'], 3: ['kg3-base'] }, operatorState: { 1: 'agg-1' } },
    },
    finished: [],
    stateBytes: 50,
    writtenBytes: 8,
  });
});

test('buildCompletedCheckpoint carries over state of subtasks that did not ack (finished) from the previous checkpoint', () => {
  const previous = buildCompletedCheckpoint({
    ...base,
    id: 1,
    acks: [
      { subtaskIndex: 0, snapshot: { operators: { src: { keyGroups: {}, operatorState: 'src-0@1' }, agg: { keyGroups: { 0: ['a'], 1: ['b'] } } } }, stats: stats(1, 1) },
      { subtaskIndex: 1, snapshot: { operators: { src: { keyGroups: {}, operatorState: 'src-1@1' }, agg: { keyGroups: { 2: ['c'], 3: ['d'] } } } }, stats: stats(1, 1) },
    ],
  });
  // Subtask 1 finished: only subtask 0 acks checkpoint 2.
  const cp = buildCompletedCheckpoint({
    ...base,
    id: 2,
    finished: ['src/1'],
    previous,
    acks: [{ subtaskIndex: 0, snapshot: { operators: { src: { keyGroups: {}, operatorState: 'src-0@2' }, agg: { keyGroups: { 0: ['a', 'a-d1'], 1: ['b'] } } } }, stats: stats(7, 2) }],
  });
  assert.deepEqual(cp.operators['src']!.operatorState, { 0: 'src-0@2', 1: 'src-1@1' });
  assert.deepEqual(cp.operators['agg']!.keyGroups, { 0: ['a', 'a-d1'], 1: ['b'], 2: ['c'], 3: ['d'] });
  assert.deepEqual(cp.finished, ['src/1']);
  assert.equal(cp.stateBytes, 7);
  assert.equal(cp.writtenBytes, 2);
});

test('buildCompletedCheckpoint does not carry over state that cannot be the same after a rescale', () => {
  const previous: CompletedCheckpoint = {
    ...base,
    formatVersion: 1,
    id: 1,
    stateBytes: 0,
    writtenBytes: 0,
    operators: {
      src: { maxParallelism: 4, parallelism: 4, keyGroups: {}, operatorState: { 0: 's0', 1: 's1', 2: 's2', 3: 's3' } },
      agg: { maxParallelism: 8, parallelism: 2, keyGroups: { 5: ['x'] }, operatorState: {} },
    },
  };
  const cp = buildCompletedCheckpoint({ ...base, id: 2, previous, acks: [] });
  // Parallelism is 2 now: old indexes were other shares (a subtask that did not ack is restored as finished); agg had another maxParallelism.
  assert.deepEqual(cp.operators['src']!.operatorState, {});
  assert.deepEqual(cp.operators['agg']!.keyGroups, {});
});

test('buildCompletedCheckpoint refuses an unknown operator and a key group claimed twice', () => {
  const ack = (i: number, snapshot: SubtaskSnapshot) => ({ subtaskIndex: i, snapshot, stats: stats(0, 0) });
  assert.throws(
    () => buildCompletedCheckpoint({ ...base, id: 3, acks: [ack(0, { operators: { nope: { keyGroups: {} } } })] }),
    (e: { code?: string; message: string }) => e.code === 'WEIR_INTERNAL' && e.message.includes("unknown operator 'nope'"),
  );
  assert.throws(
    () => buildCompletedCheckpoint({ ...base, id: 3, acks: [ack(0, { operators: { agg: { keyGroups: { 1: ['p'] } } } }), ack(1, { operators: { agg: { keyGroups: { 1: ['q'] } } } })] }),
    (e: { code?: string; message: string }) => e.code === 'WEIR_INTERNAL' && e.message.includes('key group 1') && e.message.includes('subtasks 0 and 1'),
  );
});

/** A checkpoint of one keyed operator with the given key-group chains and operator state. */
function checkpoint(id: number, keyGroups: Record<number, string[]>, operatorState: Record<number, string> = {}): CompletedCheckpoint {
  return { formatVersion: 1, id, jobId: 'j', attempt: 1, timestamp: id, completedAt: id, finished: [], stateBytes: 0, writtenBytes: 0, operators: { agg: { maxParallelism: 4, parallelism: 1, keyGroups, operatorState } } };
}

test('unreferencedBlobs frees only blobs no kept checkpoint shares (incremental chains)', () => {
  // cp1: base + d1; cp2 adds d2 to the same chain; cp3 starts a new base for key group 0.
  const cp1 = checkpoint(1, { 0: ['b0', 'd1'], 1: ['c0'] }, { 0: 'op-1' });
  const cp2 = checkpoint(2, { 0: ['b0', 'd1', 'd2'], 1: ['c0'] }, { 0: 'op-2' });
  const cp3 = checkpoint(3, { 0: ['b0-new'], 1: ['c0', 'c1'] }, { 0: 'op-3' });
  assert.deepEqual(unreferencedBlobs([cp1], [cp2, cp3]), ['op-1']);
  assert.deepEqual(unreferencedBlobs([cp1, cp2], [cp3]), ['b0', 'd1', 'd2', 'op-1', 'op-2']);
  assert.deepEqual(unreferencedBlobs([cp2], [cp3]), ['b0', 'd1', 'd2', 'op-2']);
  assert.deepEqual(unreferencedBlobs([cp1, cp2, cp3], []), ['b0', 'b0-new', 'c0', 'c1', 'd1', 'd2', 'op-1', 'op-2', 'op-3']);
  assert.deepEqual(unreferencedBlobs([], [cp1]), []);
  assert.deepEqual(unreferencedBlobs([cp2], [cp2]), []);
});
