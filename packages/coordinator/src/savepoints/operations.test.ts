import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WeirError } from '@weir/sdk';
import { Operations } from './operations.js';

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

test('a long poll answers as soon as the operation ends, not at its deadline', async () => {
  const ops = new Operations();
  const work = deferred<{ savepoint: string }>();
  const { requestId } = ops.start('savepoint', 'job-1', () => work.promise);
  const waiting = ops.wait(requestId, 'savepoint', 'job-1', 30_000);
  setTimeout(() => work.resolve({ savepoint: 'sp-1' }), 20);
  const t0 = Date.now();
  const view = await waiting;
  assert.equal(view.status, 'COMPLETED');
  assert.deepEqual(view.result, { savepoint: 'sp-1' });
  assert.ok(Date.now() - t0 < 10_000, 'the wait ended with the operation');
});

test('a long poll of an operation still running answers IN_PROGRESS after waitMs; waitMs 0 answers at once', async () => {
  const ops = new Operations();
  const work = deferred<void>();
  const { requestId } = ops.start('rescale', 'job-1', () => work.promise);
  assert.equal((await ops.wait(requestId, 'rescale', 'job-1', 0)).status, 'IN_PROGRESS');
  assert.equal((await ops.wait(requestId, 'rescale', 'job-1', 30)).status, 'IN_PROGRESS');
  work.resolve();
  assert.equal((await ops.wait(requestId, 'rescale', 'job-1', 30_000)).status, 'COMPLETED');
});

test('a long poll reports a failure with its code, and an unknown or mismatched id at once', async () => {
  const ops = new Operations();
  const { requestId } = ops.start('dispose', null, async () => {
    throw new WeirError('WEIR_SAVEPOINT_NOT_FOUND', 'no such savepoint');
  });
  const view = await ops.wait(requestId, 'dispose', undefined, 30_000);
  assert.equal(view.status, 'FAILED');
  assert.deepEqual(view.error, { code: 'WEIR_SAVEPOINT_NOT_FOUND', message: 'no such savepoint' });
  await assert.rejects(ops.wait('0123456789abcdef', 'dispose', undefined, 30_000), { code: 'WEIR_OPERATION_NOT_FOUND' });
  await assert.rejects(ops.wait(requestId, 'savepoint', undefined, 30_000), { code: 'WEIR_OPERATION_NOT_FOUND' });
});
