import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ActorSystem } from './actor-system.js';
import { ActorError, ActorNotFoundError, AskTimeoutError } from './errors.js';
import { InProcessTransport } from './in-process-transport.js';

const code = (c: string) => (e: unknown) => e instanceof ActorError && e.code === c;

test('ask timeout: an actor that does not answer in time -> AskTimeoutError within the timeout', { timeout: 5000 }, async () => {
  const system = new ActorSystem({ name: 'timeout' });
  // Answers only after 400 ms: too late for the asks below, soon enough for shutdown's bounded wait.
  const mute = system.spawn<string>('mute', { create: () => ({ receive: () => new Promise((r) => setTimeout(r, 400)) }) });
  const t0 = Date.now();
  await assert.rejects(mute.ask('x', { timeoutMs: 150 }), (e: unknown) => e instanceof AskTimeoutError && e.code === 'WEIR_ACTOR_ASK_TIMEOUT');
  const took = Date.now() - t0;
  assert.ok(took >= 140 && took < 400, `took ${took} ms`);
  await assert.rejects(mute.ask('x', { timeoutMs: 0 }), RangeError);
  await system.shutdown();
});

test('ask to an unknown local name -> ActorNotFoundError at once; ref() never throws', { timeout: 5000 }, async () => {
  const system = new ActorSystem({ name: 'unknown' });
  const ghost = system.ref<string>('nobody');
  const t0 = Date.now();
  await assert.rejects(ghost.ask('x'), (e: unknown) => e instanceof ActorNotFoundError && e.code === 'WEIR_ACTOR_NOT_FOUND');
  assert.ok(Date.now() - t0 < 50);
  ghost.tell('x'); // dropped
  await ghost.send('x');
  await system.shutdown();
});

test('names: duplicate spawn -> WEIR_ACTOR_NAME_TAKEN; bad props -> RangeError; freed after stop', { timeout: 5000 }, async () => {
  const system = new ActorSystem({ name: 'names' });
  const echo = { create: () => ({ receive: (m: string) => m }) };
  const first = system.spawn<string>('echo', echo);
  assert.throws(() => system.spawn('echo', echo), code('WEIR_ACTOR_NAME_TAKEN'));
  assert.throws(() => system.spawn('', echo), code('WEIR_ACTOR_BAD_NAME'));
  assert.throws(() => system.spawn('x', { ...echo, mailboxCapacity: 0 }), RangeError);
  await system.stop(first);
  await assert.rejects(first.ask('x'), code('WEIR_ACTOR_STOPPED'));
  first.tell('dropped'); // a tell to a stopped actor is dropped, not thrown
  const second = system.spawn<string>('echo', echo);
  await system.stop(first); // a stale ref must not stop the new incarnation
  assert.equal(await second.ask('hi'), 'hi');
  assert.equal(await system.ref<string>('echo').ask('by name'), 'by name');
  await system.shutdown();
  assert.throws(() => system.spawn('late', echo), code('WEIR_ACTOR_STOPPED'));
});

test('systems sharing one InProcessTransport address each other without serializing', { timeout: 5000 }, async () => {
  const transport = new InProcessTransport();
  const a = new ActorSystem({ name: 'a', transport });
  const b = new ActorSystem({ name: 'b', transport });
  const payload = { big: new Map([['k', 1]]) };
  let received: unknown;
  a.spawn<unknown>('keeper', { create: () => ({ receive: (m: unknown) => ((received = m), m) }) });
  assert.equal(await b.ref('keeper').ask(payload), payload, 'same object back: nothing was copied');
  assert.equal(received, payload);
  assert.throws(() => b.spawn('keeper', { create: () => ({ receive: () => 0 }) }), code('WEIR_ACTOR_NAME_TAKEN'));
  const err = Object.assign(new Error('nope'), { code: 'X' });
  a.spawn<string>('thrower', { create: () => ({ receive: () => Promise.reject(err) }) });
  await assert.rejects(b.ref('thrower').ask('x'), (e) => e === err);
  await b.shutdown(); // must not close the transport a still uses
  assert.equal(await a.ref('keeper').ask(1), 1);
  await a.shutdown();
  await assert.rejects(b.ref('keeper').ask(1), ActorNotFoundError);
});

test('shutdown waits for the in-flight message and runs postStop', { timeout: 5000 }, async () => {
  const system = new ActorSystem({ name: 'shutdown' });
  const events: string[] = [];
  const ref = system.spawn<number>('slow', {
    create: () => ({
      receive: async (ms: number) => {
        await new Promise((r) => setTimeout(r, ms));
        events.push('done');
      },
      postStop: () => void events.push('postStop'),
    }),
  });
  ref.tell(100);
  await new Promise((r) => setTimeout(r, 10));
  const queued = ref.ask(1).catch((e: unknown) => e);
  await system.shutdown();
  assert.deepEqual(events, ['done', 'postStop']);
  assert.ok(code('WEIR_ACTOR_STOPPED')(await queued));
});
