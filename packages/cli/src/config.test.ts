import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixedPort, flag, parseRestartStrategy, port } from './config.js';

const invalid = (message: RegExp) => (e: { code?: string; message?: string }) => e.code === 'WEIR_CONFIG_INVALID' && message.test(e.message ?? '');

test('ports: digits only; 0 (any free port) only where the port need not be known (cluster up refuses it)', () => {
  assert.equal(flag('rest-port', port, '8081'), 8081);
  assert.equal(flag('rest-port', port, '0'), 0);
  assert.equal(flag('rest-port', fixedPort, '65535'), 65535);
  assert.throws(() => flag('rest-port', fixedPort, '0'), invalid(/^--rest-port 0 is invalid: must be 1\.\.65535: cluster up has to know the port/));
  for (const bad of ['', ' ', '65536', '-1', '80.5', 'http']) {
    assert.throws(() => flag('rest-port', port, bad), invalid(/^--rest-port .* is invalid: must be/), `port '${bad}'`);
    assert.throws(() => flag('rest-port', fixedPort, bad), invalid(/^--rest-port .* is invalid: must be/), `fixed port '${bad}'`);
  }
});

test('--restart-strategy: none, fixed-delay, or a JSON object; other JSON (null, numbers, arrays) is refused', () => {
  assert.deepEqual(parseRestartStrategy('none'), { type: 'none' });
  assert.deepEqual(parseRestartStrategy('fixed-delay:3:100'), { type: 'fixed-delay', attempts: 3, delayMs: 100 });
  assert.deepEqual(parseRestartStrategy('{"type":"none"}'), { type: 'none' });
  for (const bad of ['null', '5', '"none"', '[]', 'true', '{nope']) {
    assert.throws(() => parseRestartStrategy(bad), invalid(new RegExp(`^--restart-strategy ${bad.replace(/[[\]{}]/g, '\\$&')} is invalid: use 'none'`)), bad);
  }
});
