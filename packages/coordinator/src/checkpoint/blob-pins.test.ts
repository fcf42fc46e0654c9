import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BlobPins } from './blob-pins.js';

test('without a savepoint in flight, blobs are deleted at once', () => {
  const pins = new BlobPins();
  assert.deepEqual(pins.delete(['a', 'b']), ['a', 'b']);
  assert.equal(pins.deferredBlobs, 0);
});

test('blobs dropped while a savepoint is in flight wait for it to let go', () => {
  const pins = new BlobPins();
  pins.pin('sp-1');
  assert.deepEqual(pins.delete(['a', 'b']), []);
  assert.deepEqual(pins.delete(['c']), []);
  assert.equal(pins.deferredBlobs, 3);
  assert.deepEqual(pins.unpin('sp-1').sort(), ['a', 'b', 'c']);
  assert.equal(pins.held, 0);
  assert.equal(pins.deferredBlobs, 0);
  assert.deepEqual(pins.delete(['d']), ['d']);
});

test('a deletion waits only for the savepoints in flight when it was asked', () => {
  const pins = new BlobPins();
  pins.pin('sp-1');
  assert.deepEqual(pins.delete(['a']), []);
  pins.pin('sp-2');
  assert.deepEqual(pins.delete(['b']), []);
  // 'a' waited for sp-1 only; 'b' for both.
  assert.deepEqual(pins.unpin('sp-1'), ['a']);
  assert.deepEqual(pins.unpin('sp-2'), ['b']);
});

test('a later savepoint does not hold back what an earlier deletion waited for', () => {
  const pins = new BlobPins();
  pins.pin('sp-1');
  pins.delete(['a']);
  pins.pin('sp-2');
  assert.deepEqual(pins.unpin('sp-1'), ['a']);
  assert.equal(pins.held, 1);
});

test('letting go twice, or of something never pinned, frees nothing', () => {
  const pins = new BlobPins();
  pins.pin('sp-1');
  pins.delete(['a']);
  assert.deepEqual(pins.unpin('sp-9'), []);
  assert.deepEqual(pins.unpin('sp-1'), ['a']);
  assert.deepEqual(pins.unpin('sp-1'), []);
});
