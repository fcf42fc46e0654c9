import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SAVEPOINT_FORMAT_VERSION, type SavepointMetadata, type SavepointOperator } from '@weir/runtime';
import type { JobGraphDescription, OperatorDescription } from '@weir/sdk';
import { checkSavepointCompatibility } from './compatibility.js';

const op = (uid: string, o: Partial<SavepointOperator> = {}): SavepointOperator => ({ uid, kind: 'actor', parallelism: 2, maxParallelism: 128, keyed: true, state: { sum: 'value' }, keyGroups: { 0: `ks/${uid}/0` }, operatorState: {}, bytes: 10, ...o });
const meta = (ops: SavepointOperator[], o: Partial<SavepointMetadata> = {}): SavepointMetadata => ({
  formatVersion: 1,
  id: 'sp-0123456789abcdef',
  jobName: 'j',
  jobVersion: '1',
  jobId: '0123456789abcdef',
  checkpointId: 7,
  reason: 'manual',
  createdAt: 0,
  sizeBytes: 10,
  operators: Object.fromEntries(ops.map((x) => [x.uid, x])),
  ...o,
});
const node = (id: number, uid: string, o: Partial<OperatorDescription> = {}): OperatorDescription => ({ id, uid, name: uid, kind: 'actor', parallelism: 2, maxParallelism: 128, chaining: true, keyed: true, inputs: [], state: { sum: 'value' }, ...o });
const job = (nodes: OperatorDescription[]): JobGraphDescription => ({ apiVersion: 1, name: 'j', version: '2', nodes });

const source = op('src', { kind: 'source', keyed: false, state: undefined, keyGroups: {}, operatorState: { 0: 'os/src/0', 1: 'os/src/1' } });
const sourceNode = node(0, 'src', { kind: 'source', keyed: false, state: undefined });

test('state maps by uid: restored, rescaled, new operators start empty', () => {
  const m = checkSavepointCompatibility(meta([source, op('count')]), job([sourceNode, node(1, 'count', { parallelism: 3 }), node(2, 'new-filter', { kind: 'filter', keyed: false, state: undefined })]), false);
  assert.deepEqual(m.restored, ['src', 'count']);
  assert.deepEqual(m.rescaled, ['count']);
  assert.deepEqual(m.fresh, ['new-filter']);
  assert.deepEqual(m.notRestored, []);
});

test('state of a uid the job lacks is refused unless allowed; stateless operators may go', () => {
  const sp = meta([source, op('count'), op('stateless-map', { kind: 'map', keyed: false, state: undefined, keyGroups: {} })]);
  assert.throws(() => checkSavepointCompatibility(sp, job([sourceNode]), false), (e: { code?: string; message: string }) => e.code === 'WEIR_SAVEPOINT_NON_RESTORED_STATE' && /'count'/.test(e.message) && !/stateless-map/.test(e.message));
  assert.deepEqual(checkSavepointCompatibility(sp, job([sourceNode]), true).notRestored, ['count']);
});

test('a changed max parallelism of keyed state is refused', () => {
  assert.throws(() => checkSavepointCompatibility(meta([op('count')]), job([node(0, 'count', { maxParallelism: 256 })]), false), { code: 'WEIR_SAVEPOINT_MAX_PARALLELISM_CHANGED' });
});

test('a changed state kind, operator kind or keyedness is refused', () => {
  assert.throws(() => checkSavepointCompatibility(meta([op('count')]), job([node(0, 'count', { state: { sum: 'list' } })]), false), (e: { code?: string; message: string }) => e.code === 'WEIR_SAVEPOINT_STATE_TYPE_CHANGED' && /'sum'.*value.*list/.test(e.message));
  assert.throws(() => checkSavepointCompatibility(meta([op('count')]), job([node(0, 'count', { keyed: false })]), false), { code: 'WEIR_SAVEPOINT_STATE_TYPE_CHANGED' });
  assert.throws(() => checkSavepointCompatibility(meta([source]), job([node(0, 'src', { kind: 'map', keyed: false })]), false), { code: 'WEIR_SAVEPOINT_STATE_TYPE_CHANGED' });
  // A new state name next to the old one is fine.
  assert.deepEqual(checkSavepointCompatibility(meta([op('count')]), job([node(0, 'count', { state: { sum: 'value', extra: 'map' } })]), false).restored, ['count']);
});

test('a newer format version is refused', () => {
  assert.throws(() => checkSavepointCompatibility(meta([op('count')], { formatVersion: SAVEPOINT_FORMAT_VERSION + 1 }), job([node(0, 'count')]), false), { code: 'WEIR_SAVEPOINT_FORMAT_UNSUPPORTED' });
});

test('uids and state names that are names of Object.prototype are looked up as the savepoint has them, not inherited', () => {
  const sp = meta([source, op('count')]);
  const m = checkSavepointCompatibility(sp, job([sourceNode, node(1, 'count', { state: { sum: 'value', constructor: 'list' } }), node(2, 'constructor'), node(3, 'toString', { kind: 'sink', keyed: false, state: undefined })]), false);
  assert.deepEqual(m.restored, ['src', 'count']);
  assert.deepEqual(m.fresh, ['constructor', 'toString']);
  // And the other way: the savepoint's operator 'constructor' is one the job lacks.
  assert.throws(() => checkSavepointCompatibility(meta([source, op('constructor')]), job([sourceNode]), false), (e: { code?: string; message: string }) => e.code === 'WEIR_SAVEPOINT_NON_RESTORED_STATE' && /'constructor'/.test(e.message));
});
