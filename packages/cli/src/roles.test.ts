import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import pino from 'pino';
import { ActorSystem, Supervision } from '@weir/actors';
import { fatalOnEscalate } from './roles.js';
import { serve } from './serve.js';

test('a role whose actor stops after an escalation logs a fatal line, is stopped, and exits with code 1', { timeout: 10_000 }, async () => {
  const lines: { level: number; msg: string; actor?: string }[] = [];
  const log = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) }));
  let stopped = 0;
  const exits: number[] = [];
  await serve(async (onFatal) => {
    const system = new ActorSystem({ name: 'role', onEscalate: fatalOnEscalate('worker', { log, onFatal }) });
    const ref = system.spawn<unknown>('worker-x', { create: () => ({ receive: () => { throw new Error('broken'); } }), supervisor: Supervision.escalate() });
    ref.tell('anything');
    return { stop: async () => void (stopped++, await system.shutdown()) };
  }, (code) => exits.push(code));
  assert.deepEqual(exits, [1]);
  assert.equal(stopped, 1);
  const fatal = lines.find((l) => l.level === 60);
  assert.ok(fatal, 'a fatal log line');
  assert.equal(fatal.actor, 'worker-x');
  assert.match(fatal.msg, /stopped after a failure; exiting with code 1 so a supervisor starts a fresh worker/);
});
