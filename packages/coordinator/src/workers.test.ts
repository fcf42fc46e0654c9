import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkerRegistry } from './workers.js';

const register = (r: WorkerRegistry, pid: number, now: number) => r.register({ type: 'register', workerId: 'w1', slots: 1, host: 'h', pid, startedAt: now }, now);

test('a worker is lost only once probes found it gone for the grace, and an answer in between starts over', () => {
  const r = new WorkerRegistry();
  const w = register(r, 10, 0);
  assert.equal(r.probed(w, true, 1_000, 1_000), false, 'one miss may be a reconnect');
  assert.equal(r.probed(w, true, 1_500, 1_000), false);
  assert.equal(r.probed(w, false, 1_600, 1_000), false, 'it answered');
  assert.equal(r.probed(w, true, 2_000, 1_000), false, 'the grace counts from the first miss since');
  assert.equal(r.probed(w, true, 3_000, 1_000), true);
  assert.equal(r.workers.has('w1'), false, 'removed once lost');
  assert.equal(r.probed(w, true, 4_000, 1_000), false, 'lost once only');
});

test('a probe of a worker that registered again since is ignored', () => {
  const r = new WorkerRegistry();
  const old = register(r, 10, 0);
  assert.equal(r.probed(old, true, 100, 1_000), false);
  const now = register(r, 11, 200);
  assert.equal(r.probed(old, true, 5_000, 1_000), false, 'the old process is not the registered worker');
  assert.equal(r.workers.get('w1'), now);
  assert.equal(now.goneSince, undefined);
});
