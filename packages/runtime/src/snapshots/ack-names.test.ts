import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeWire, encode, encodeWire } from '@weir/actors';
import { packAckNames, unpackAckNames } from './ack-names.js';
import type { SubtaskSnapshot } from './types.js';

/** What a subtask holding `groups` key groups of `count` acknowledges, each a chain of `chain` blobs. */
function ack(groups: number, chain: number): SubtaskSnapshot {
  const keyGroups = Object.fromEntries(
    Array.from({ length: groups }, (_, g) => [g, Array.from({ length: chain }, (_, i) => `ks/count/${g}/${1 + (i > 6 ? 1 : 0)}-${100 + i * 3 + (g % 3)}-${i === 0 ? 'base' : 'delta'}`)]),
  );
  return { operators: { count: { keyGroups }, src: { keyGroups: {}, operatorState: 'os/src/0/1-7' } } };
}

test('ack names: packed and unpacked is the same snapshot, whatever the names (chains, savepoint parts and their chains, a name of another form, a uid with a slash)', () => {
  const snapshot: SubtaskSnapshot = {
    operators: {
      count: { keyGroups: { 0: ['ks/count/0/1-3-base', 'ks/count/0/1-4-delta'], 7: ['ks/count/7', 'ks/count/7/1', 'ks/count/7/2'], 9: ['other/name', 'ks/count/90/1-3-base'] }, savepointBytes: 12, savepointChains: { 7: ['ks/count/7/1-3-base', 'ks/count/7/1-4-delta'] } },
      'a/b': { keyGroups: { 3: ['ks/a/b/3/2-9-base'] }, operatorState: 'os/a/b/0/2-9' },
      src: { keyGroups: {}, operatorState: 'os/src/0/1-7' },
    },
  };
  const packed = packAckNames(snapshot);
  assert.deepEqual(packed.operators.count!.keyGroups[0], ['/1-3-base', '/1-4-delta']);
  assert.deepEqual(packed.operators.count!.keyGroups[9], ['other/name', 'ks/count/90/1-3-base'], 'names without the prefix stay whole');
  assert.deepEqual(packed.operators.count!.savepointChains, { 7: ['/1-3-base', '/1-4-delta'] }, 'a savepoint\'s chains too');
  assert.deepEqual(unpackAckNames(decodeWire(encodeWire(packed)) as SubtaskSnapshot), snapshot);
  assert.deepEqual(unpackAckNames(snapshot), snapshot, 'an unpacked snapshot is left as it is');
});

test('ack names: 32768 key groups of 11-blob chains (the most maxParallelism and maxDeltaChain allow at parallelism 1) fit in 1 MiB on the wire', () => {
  const big = ack(32_768, 11);
  const plain = encodeWire(big).byteLength;
  const packed = encodeWire(packAckNames(big)).byteLength;
  assert.ok(plain > 1024 * 1024, `deflated alone it is ${plain} bytes (plain msgpack ${encode(big).byteLength})`);
  assert.ok(packed < 1024 * 1024, `packed and deflated it is ${packed} bytes`);
});
