import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_CHECKPOINT_CONFIG, DEFAULT_RESTART_STRATEGY } from '@weir/sdk';
import { resolveCheckpointConfig, resolveRestartStrategy } from './config.js';

/** Assert a WeirError with `code` whose message contains every fragment. */
function rejects(fn: () => unknown, code: string, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.equal((e as { code?: string }).code, code);
    for (const f of fragments) assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(f)}`);
    return true;
  });
}

test('checkpoint config: undefined and {} give the defaults, given fields override them', () => {
  assert.deepEqual(resolveCheckpointConfig(undefined), DEFAULT_CHECKPOINT_CONFIG);
  assert.deepEqual(resolveCheckpointConfig({}), DEFAULT_CHECKPOINT_CONFIG);
  assert.deepEqual(resolveCheckpointConfig({ intervalMs: 0, retained: 3, mode: 'at-least-once' }), { ...DEFAULT_CHECKPOINT_CONFIG, intervalMs: 0, retained: 3, mode: 'at-least-once' });
  const full = { intervalMs: 10, timeoutMs: 10, minPauseMs: 0, maxConcurrent: 16, tolerableFailures: 0, retained: 100, mode: 'exactly-once', maxDeltaChain: 1000 };
  assert.deepEqual(resolveCheckpointConfig(full), full);
  assert.deepEqual(resolveCheckpointConfig({ maxDeltaChain: 0, maxConcurrent: 1, retained: 1 }), { ...DEFAULT_CHECKPOINT_CONFIG, maxDeltaChain: 0, maxConcurrent: 1, retained: 1 });
});

test('checkpoint config: each bad field is named with what it allows', () => {
  const code = 'WEIR_CHECKPOINT_CONFIG_INVALID';
  rejects(() => resolveCheckpointConfig({ intervalMs: 5 }), code, 'intervalMs', '0 (periodic checkpoints off) or an integer >= 10', 'got 5');
  rejects(() => resolveCheckpointConfig({ intervalMs: -1 }), code, 'intervalMs', 'got -1');
  rejects(() => resolveCheckpointConfig({ intervalMs: 100.5 }), code, 'intervalMs', 'integer');
  rejects(() => resolveCheckpointConfig({ timeoutMs: 9 }), code, 'timeoutMs must be an integer >= 10');
  rejects(() => resolveCheckpointConfig({ minPauseMs: -1 }), code, 'minPauseMs must be an integer >= 0');
  rejects(() => resolveCheckpointConfig({ maxConcurrent: 0 }), code, 'maxConcurrent must be an integer in 1..16');
  rejects(() => resolveCheckpointConfig({ maxConcurrent: 17 }), code, 'maxConcurrent must be an integer in 1..16', 'got 17');
  rejects(() => resolveCheckpointConfig({ tolerableFailures: 1.5 }), code, 'tolerableFailures must be an integer >= 0');
  rejects(() => resolveCheckpointConfig({ retained: 0 }), code, 'retained must be an integer in 1..100');
  rejects(() => resolveCheckpointConfig({ retained: 101 }), code, 'retained must be an integer in 1..100');
  rejects(() => resolveCheckpointConfig({ mode: 'exactly' }), code, "mode must be 'exactly-once' or 'at-least-once'", 'got "exactly"');
  rejects(() => resolveCheckpointConfig({ maxDeltaChain: 1001 }), code, 'maxDeltaChain must be an integer in 0..1000');
  rejects(() => resolveCheckpointConfig({ timeoutMs: '100' }), code, 'timeoutMs', 'got "100"');
  rejects(() => resolveCheckpointConfig({ timeoutMs: Infinity }), code, 'timeoutMs', 'got Infinity');
});

test('checkpoint config: several bad fields are all named; unknown keys and non-objects are refused', () => {
  const code = 'WEIR_CHECKPOINT_CONFIG_INVALID';
  rejects(() => resolveCheckpointConfig({ timeoutMs: 1, retained: 0 }), code, 'timeoutMs must', 'retained must');
  rejects(() => resolveCheckpointConfig({ interval: 1000 }), code, "unknown field 'interval'", 'known fields: intervalMs');
  rejects(() => resolveCheckpointConfig(null), code, 'must be an object');
  rejects(() => resolveCheckpointConfig([]), code, 'must be an object');
  rejects(() => resolveCheckpointConfig(1000), code, 'must be an object');
});

test('restart strategy: valid configs, defaults for exponential-delay, missing attempts means no limit', () => {
  assert.deepEqual(resolveRestartStrategy(undefined), DEFAULT_RESTART_STRATEGY);
  assert.deepEqual(resolveRestartStrategy({ type: 'none' }), { type: 'none' });
  assert.deepEqual(resolveRestartStrategy({ type: 'fixed-delay', attempts: 3, delayMs: 100 }), { type: 'fixed-delay', attempts: 3, delayMs: 100 });
  assert.deepEqual(resolveRestartStrategy({ type: 'fixed-delay', attempts: Infinity, delayMs: 0 }), { type: 'fixed-delay', attempts: Infinity, delayMs: 0 });
  assert.deepEqual(resolveRestartStrategy({ type: 'failure-rate', maxFailures: 2, intervalMs: 1000, delayMs: 10 }), { type: 'failure-rate', maxFailures: 2, intervalMs: 1000, delayMs: 10 });
  assert.deepEqual(resolveRestartStrategy({ type: 'exponential-delay' }), DEFAULT_RESTART_STRATEGY);
  const exp = resolveRestartStrategy({ type: 'exponential-delay', initialDelayMs: 10, maxDelayMs: 100, multiplier: 1.5, resetAfterMs: 5000, attempts: 4 });
  assert.deepEqual(exp, { type: 'exponential-delay', initialDelayMs: 10, maxDelayMs: 100, multiplier: 1.5, resetAfterMs: 5000, attempts: 4 });
  const noAttempts = resolveRestartStrategy({ type: 'exponential-delay', initialDelayMs: 10 });
  assert.equal(noAttempts.type === 'exponential-delay' && noAttempts.attempts, Infinity);
});

test('restart strategy: bad type, fields and unknown keys are named', () => {
  const code = 'WEIR_RESTART_STRATEGY_INVALID';
  rejects(() => resolveRestartStrategy({ type: 'fixed' }), code, 'type must be one of', "'fixed-delay'", 'got "fixed"');
  rejects(() => resolveRestartStrategy({}), code, 'type must be one of');
  rejects(() => resolveRestartStrategy('none'), code, 'must be an object');
  rejects(() => resolveRestartStrategy({ type: 'fixed-delay', delayMs: 10 }), code, 'attempts is required', 'Infinity');
  rejects(() => resolveRestartStrategy({ type: 'fixed-delay', attempts: -1, delayMs: 10 }), code, 'attempts must be an integer >= 0 or Infinity', 'got -1');
  rejects(() => resolveRestartStrategy({ type: 'fixed-delay', attempts: 1, delayMs: -10 }), code, 'delayMs must be an integer >= 0');
  rejects(() => resolveRestartStrategy({ type: 'none', attempts: 1 }), code, "unknown field 'attempts'");
  rejects(() => resolveRestartStrategy({ type: 'failure-rate', maxFailures: 0, intervalMs: 1000, delayMs: 1 }), code, 'maxFailures must be an integer >= 1');
  rejects(() => resolveRestartStrategy({ type: 'failure-rate', maxFailures: 1, delayMs: 1 }), code, 'intervalMs is required');
  rejects(() => resolveRestartStrategy({ type: 'exponential-delay', multiplier: 0.5 }), code, 'multiplier must be a number >= 1');
  rejects(() => resolveRestartStrategy({ type: 'exponential-delay', initialDelayMs: 100, maxDelayMs: 10 }), code, 'maxDelayMs must be >= initialDelayMs');
});
