import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { ActorSystem } from './actor-system.js';
import { ActorNotFoundError, AskTimeoutError, MailboxFullError, RemoteActorError } from './errors.js';
import { Mailbox } from './mailbox.js';
import { NatsTransport } from './nats-transport.js';
import { Supervision } from './supervision.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('mailbox: ring buffer keeps FIFO order while it grows', () => {
  const m = new Mailbox<number>(4);
  for (let i = 0; i < 3; i++) m.push(i);
  assert.equal(m.shift(), 0);
  for (let i = 3; i < 20; i++) m.push(i);
  assert.deepEqual(m.drain(), Array.from({ length: 19 }, (_, i) => i + 1));
});

test('messages are processed one at a time in order, sync and async receives mixed', { timeout: 10_000 }, async () => {
  const system = new ActorSystem({ name: 't' });
  const seen: number[] = [];
  let busy = false;
  const ref = system.spawn<number>('order', {
    create: () => ({
      async receive(n: number) {
        assert.equal(busy, false, 'no two messages at once');
        busy = true;
        if (n % 3 === 0) await sleep(0);
        seen.push(n);
        busy = false;
        return n;
      },
    }),
  });
  for (let i = 0; i < 999; i++) ref.tell(i);
  assert.equal(await ref.ask(999), 999);
  assert.deepEqual(seen, Array.from({ length: 1000 }, (_, i) => i));
  await system.shutdown();
});

test('bounded mailbox: reject throws when full; backpressure makes send() wait', { timeout: 10_000 }, async () => {
  const system = new ActorSystem({ name: 't' });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slow = { create: () => ({ receive: () => gate }), mailboxCapacity: 2 };
  const rejecting = system.spawn<number>('reject', { ...slow, overflow: 'reject' });
  rejecting.tell(1); // taken by the loop
  await sleep(5);
  rejecting.tell(2);
  rejecting.tell(3);
  assert.throws(() => rejecting.tell(4), MailboxFullError);
  const bp = system.spawn<number>('bp', slow);
  bp.tell(1);
  await sleep(5);
  await bp.send(2);
  await bp.send(3);
  let sent = false;
  const p = bp.send(4).then(() => (sent = true));
  await sleep(30);
  assert.equal(sent, false, 'sender blocked while the mailbox is full');
  release();
  await p;
  assert.equal(sent, true);
  await system.shutdown();
});

test('supervision: restart gives a fresh instance and keeps going; resume keeps state; stop stops', { timeout: 10_000 }, async () => {
  const system = new ActorSystem({ name: 't' });
  let starts = 0;
  const counter = (supervisor: ReturnType<typeof Supervision.restart>) => ({
    supervisor,
    create: () => {
      let count = 0;
      return {
        preStart: () => void starts++,
        receive: (m: string) => {
          if (m === 'boom') throw Object.assign(new Error('boom'), { code: 'MY_CODE' });
          return ++count;
        },
      };
    },
  });
  const r = system.spawn<string>('restart', counter(Supervision.restart()));
  assert.equal(await r.ask('inc'), 1);
  await assert.rejects(r.ask('boom'), /boom/);
  assert.equal(await r.ask('inc'), 1, 'state reset by restart');
  assert.equal(starts, 2, 'preStart ran again');
  const resume = system.spawn<string>('resume', counter(Supervision.resume()));
  await resume.ask('inc');
  await assert.rejects(resume.ask('boom'));
  assert.equal(await resume.ask('inc'), 2, 'state kept');
  const stop = system.spawn<string>('stop', counter(Supervision.stop()));
  await assert.rejects(stop.ask('boom'));
  await assert.rejects(stop.ask('inc'), (e: { code?: string }) => e.code === 'WEIR_ACTOR_STOPPED');
  await system.shutdown();
});

test('supervision: escalate restarts the parent; too many restarts stop and escalate to the system', { timeout: 10_000 }, async () => {
  const escalated: string[] = [];
  const system = new ActorSystem({ name: 't', onEscalate: (n) => escalated.push(n) });
  let parentStarts = 0;
  const parent = system.spawn<string>('parent', {
    create: () => ({
      preStart: () => void parentStarts++,
      receive: (m: string, ctx) => {
        const child = ctx.spawn<string>(`child${parentStarts}`, { supervisor: Supervision.escalate(), create: () => ({ receive: () => { throw new Error('child failed'); } }) });
        child.tell(m);
      },
    }),
  });
  parent.tell('go');
  await sleep(50);
  assert.equal(parentStarts, 2, 'parent restarted by the child escalation');
  const flaky = system.spawn<string>('flaky', { supervisor: Supervision.restart({ maxRestarts: 2, withinMs: 10_000 }), create: () => ({ receive: () => { throw new Error('always'); } }) });
  for (let i = 0; i < 3; i++) await flaky.ask('x').catch(() => undefined);
  await sleep(10);
  assert.deepEqual(escalated, ['flaky']);
  await assert.rejects(flaky.ask('x'), (e: { code?: string }) => e.code === 'WEIR_ACTOR_STOPPED');
  await system.shutdown();
});

test('ask: timeout, unknown actor, duplicate name', { timeout: 10_000 }, async () => {
  const system = new ActorSystem({ name: 't' });
  const mute = system.spawn<string>('mute', { create: () => ({ receive: () => new Promise(() => {}) }) });
  const t0 = Date.now();
  await assert.rejects(mute.ask('x', { timeoutMs: 100 }), AskTimeoutError);
  assert.ok(Date.now() - t0 < 1000);
  await assert.rejects(system.ref('nobody').ask('x'), ActorNotFoundError);
  assert.throws(() => system.spawn('mute', { create: () => ({ receive: () => 1 }) }), (e: { code?: string }) => e.code === 'WEIR_ACTOR_NAME_TAKEN');
  await system.stop(mute);
  await system.shutdown();
});

test('NATS transport: systems in two connections address each other by name (real server)', { timeout: 15_000 }, async () => {
  const prefix = `weir.test.${randomBytes(4).toString('hex')}`;
  const nc1 = await connect({ servers: 'nats://127.0.0.1:4222' });
  const nc2 = await connect({ servers: 'nats://127.0.0.1:4222' });
  const a = new ActorSystem({ name: 'a', transport: new NatsTransport(nc1, { prefix }) });
  const b = new ActorSystem({ name: 'b', transport: new NatsTransport(nc2, { prefix }) });
  try {
    const told: unknown[] = [];
    a.spawn<{ op: string; n?: number }>('calc', {
      create: () => ({
        receive: (m: { op: string; n?: number }) => {
          if (m.op === 'fail') throw Object.assign(new Error('no such op'), { code: 'MY_CODE' });
          if (m.op === 'tell') return void told.push(m.n);
          if (m.op === 'hang') return new Promise(() => {});
          return { doubled: (m.n ?? 0) * 2, tags: ['x'] };
        },
      }),
    });
    await nc1.flush();
    const calc = b.ref<{ op: string; n?: number }>('calc');
    assert.deepEqual(await calc.ask({ op: 'double', n: 21 }), { doubled: 42, tags: ['x'] });
    const err = await calc.ask({ op: 'fail' }).catch((e: unknown) => e);
    assert.ok(err instanceof RemoteActorError);
    assert.equal(err.code, 'MY_CODE');
    assert.match(err.message, /no such op/);
    calc.tell({ op: 'tell', n: 7 });
    await sleep(100);
    assert.deepEqual(told, [7]);
    await assert.rejects(b.ref('missing').ask('x', { timeoutMs: 2000 }), ActorNotFoundError);
    await assert.rejects(calc.ask({ op: 'hang' }, { timeoutMs: 200 }), AskTimeoutError);
    await a.stop('calc');
  } finally {
    await a.shutdown();
    await b.shutdown();
    await nc1.close();
    await nc2.close();
  }
});
