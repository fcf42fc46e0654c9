import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRestartStrategy, type RestartDecision } from './restart-strategy.js';

/** Delays of failures at the given times, or the refusal reason. */
const run = (decide: (now: number) => RestartDecision, times: readonly number[]) =>
  times.map((t) => {
    const d = decide(t);
    return d.restart ? d.delayMs : d.reason;
  });

test('none never restarts', () => {
  const s = createRestartStrategy({ type: 'none' });
  assert.deepEqual(s.onFailure(0), { restart: false, reason: 'restart strategy none: the job is never restarted' });
  assert.equal(s.describe(), 'none');
});

test('fixed-delay restarts `attempts` times with the same delay, then is exhausted', () => {
  const s = createRestartStrategy({ type: 'fixed-delay', attempts: 3, delayMs: 500 });
  const r = run((t) => s.onFailure(t), [0, 10, 20, 30, 40]);
  assert.deepEqual(r, [500, 500, 500, 'fixed-delay restart strategy exhausted: 3 restarts allowed', 'fixed-delay restart strategy exhausted: 3 restarts allowed']);
  assert.equal(s.describe(), 'fixed-delay (3 attempts, 500 ms delay)');
  const zero = createRestartStrategy({ type: 'fixed-delay', attempts: 0, delayMs: 1 });
  assert.equal(zero.onFailure(0).restart, false);
  const unlimited = createRestartStrategy({ type: 'fixed-delay', attempts: Infinity, delayMs: 1 });
  for (let i = 0; i < 1000; i++) assert.equal(unlimited.onFailure(i).restart, true);
});

test('exponential-delay doubles up to the cap and counts attempts in all', () => {
  const s = createRestartStrategy({ type: 'exponential-delay', initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, resetAfterMs: 1_000_000, attempts: 6 });
  const r = run((t) => s.onFailure(t), [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(r, [100, 200, 400, 800, 1000, 1000, 'exponential-delay restart strategy exhausted: 6 restarts allowed']);
  assert.match(s.describe(), /^exponential-delay \(100 ms to 1000 ms, x2, reset after 1000000 ms, 6 attempts\)$/);
});

test('exponential-delay resets to the initial delay after a quiet run of resetAfterMs', () => {
  const s = createRestartStrategy({ type: 'exponential-delay', initialDelayMs: 10, maxDelayMs: 10_000, multiplier: 3, resetAfterMs: 1000, attempts: Infinity });
  // 999 ms since the previous failure is not quiet enough; 1000 ms is.
  const r = run((t) => s.onFailure(t), [0, 100, 1099, 2099, 2100, 2200]);
  assert.deepEqual(r, [10, 30, 90, 10, 30, 90]);
  assert.match(s.describe(), /unlimited attempts/);
});

test('exponential-delay: a reset does not give back used attempts; non-integer multipliers round', () => {
  const s = createRestartStrategy({ type: 'exponential-delay', initialDelayMs: 10, maxDelayMs: 100, multiplier: 1.5, resetAfterMs: 50, attempts: 3 });
  assert.deepEqual(run((t) => s.onFailure(t), [0, 1, 100, 1000]), [10, 15, 10, 'exponential-delay restart strategy exhausted: 3 restarts allowed']);
});

test('failure-rate restarts unless more than maxFailures failures fall in the sliding window', () => {
  const s = createRestartStrategy({ type: 'failure-rate', maxFailures: 2, intervalMs: 1000, delayMs: 50 });
  const exhausted = 'failure-rate restart strategy exhausted: more than 2 failures within 1000 ms';
  // 0, 500: two in the window. 1000: the one at 0 left the window (1000 ms ago), so two again.
  // 1400: 500, 1000, 1400 are three within 1000 ms.
  assert.deepEqual(run((t) => s.onFailure(t), [0, 500, 1000, 1400]), [50, 50, 50, exhausted]);
  assert.equal(s.describe(), 'failure-rate (at most 2 failures per 1000 ms, 50 ms delay)');
});

test('failure-rate: the window slides, so spaced failures never exhaust it', () => {
  const s = createRestartStrategy({ type: 'failure-rate', maxFailures: 1, intervalMs: 100, delayMs: 5 });
  assert.deepEqual(run((t) => s.onFailure(t), [0, 100, 200, 300, 399]), [5, 5, 5, 5, 'failure-rate restart strategy exhausted: more than 1 failures within 100 ms']);
});
