import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SendWaiters } from './send-waiters.js';

test('SendWaiters: ready waits for room under the bound, flushed for an empty queue, fail rejects, close releases', async () => {
  let queued = 3;
  const w = new SendWaiters(() => queued, 2);
  const order: string[] = [];
  const ready = w.wait(false).then(() => order.push('ready'));
  const flushed = w.wait(true).then(() => order.push('flushed'));
  queued = 2;
  w.notify();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [], 'at the bound: no room yet');
  queued = 1;
  w.notify();
  await ready;
  assert.deepEqual(order, ['ready']);
  queued = 0;
  w.notify();
  await flushed;
  assert.deepEqual(order, ['ready', 'flushed']);

  queued = 5;
  const failing = w.wait(true);
  w.fail(new Error('publish failed'));
  await assert.rejects(failing, /publish failed/);
  await assert.rejects(w.wait(false), /publish failed/, 'a failed channel rejects later waits at once');

  const c = new SendWaiters(() => 5, 2);
  const waiting = Promise.all([c.wait(false), c.wait(true)]);
  c.close();
  await waiting;
  await c.wait(true);
});
