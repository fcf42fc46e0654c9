/**
 * ChainMergeThread: the same folded bytes as mergeChain in this thread, the same typed errors, and
 * inputs that are views of larger buffers (as Redis replies can be) are read exactly.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Packr } from 'msgpackr';
import { mergeChain } from './chain-merge.js';
import { ChainMergeThread } from './chain-merge-thread.js';

const packr = new Packr({ moreTypes: true });
const thread = new ChainMergeThread();
after(() => thread.close());

test('a chain folded on the thread equals mergeChain here, for views of larger buffers too', async () => {
  const base = packr.pack({ v: 1, base: true, flat: ['a', { n: 1 }, 'b', { n: 2, s: new Set([1]) }] });
  const delta = packr.pack({ v: 1, base: false, flat: ['a', null, 'c', { n: 3 }] });
  // Each blob in the middle of a bigger buffer, with other bytes around it.
  const pool = Buffer.alloc(base.length + delta.length + 20, 0xee);
  pool.set(base, 5);
  pool.set(delta, 10 + base.length);
  const views = [pool.subarray(5, 5 + base.length), pool.subarray(10 + base.length, 10 + base.length + delta.length)];
  const here = mergeChain([base, delta]);
  assert.deepEqual(Buffer.from(await thread.merge(views)), Buffer.from(here));
  assert.deepEqual(Buffer.from(await thread.merge([base])), Buffer.from(base), 'a chain of one blob is that blob');
  assert.equal(pool[0], 0xee, 'the caller\'s buffers are left as they were');
  assert.deepEqual(Buffer.from(views[0]!), Buffer.from(base));
});

test('a corrupt chain fails with WEIR_SNAPSHOT_CORRUPT, and the thread goes on', async () => {
  const delta = packr.pack({ v: 1, base: false, flat: ['a', { n: 1 }] });
  await assert.rejects(thread.merge([delta, delta]), (e: { code?: string; message?: string }) => e.code === 'WEIR_SNAPSHOT_CORRUPT' && /full base/.test(String(e.message)));
  const base = packr.pack({ v: 1, base: true, flat: ['x', { n: 9 }] });
  assert.deepEqual(Buffer.from(await thread.merge([base, delta])), Buffer.from(mergeChain([base, delta])));
});
