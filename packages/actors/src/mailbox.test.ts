import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ActorSystem } from './actor-system.js';
import { MailboxFullError } from './errors.js';
import { Mailbox } from './mailbox.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An actor that parks on a gate, so tests can fill its mailbox deterministically. */
function gated() {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const seen: number[] = [];
  const create = () => ({
    async receive(n: number) {
      await gate;
      seen.push(n);
    },
  });
  return { create, open, seen };
}

test('Mailbox ring buffer keeps FIFO order across wrap-around and growth', () => {
  const m = new Mailbox<number>(4);
  for (let i = 0; i < 3; i++) m.push(i);
  assert.equal(m.shift(), 0);
  assert.equal(m.shift(), 1);
  for (let i = 3; i < 40; i++) m.push(i); // wraps, then grows past the capacity
  assert.equal(m.full, true);
  assert.equal(m.size, 38);
  assert.deepEqual(m.drain(), Array.from({ length: 38 }, (_, i) => i + 2));
  assert.equal(m.shift(), undefined);
  assert.throws(() => new Mailbox(0), RangeError);
});

test('1000 tells, sync and async receives mixed, are processed one at a time in order', { timeout: 10_000 }, async () => {
  const system = new ActorSystem({ name: 'order' });
  const seen: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const ref = system.spawn<number>('order', {
    create: () => ({
      receive(n: number): number | Promise<number> {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        const done = () => (seen.push(n), inFlight--, n);
        if (n % 3 === 0) return sleep(0).then(done); // a macrotask: later tells arrive meanwhile
        if (n % 3 === 1) return Promise.resolve().then(done);
        return done();
      },
    }),
  });
  for (let i = 0; i < 1000; i++) ref.tell(i);
  assert.equal(await ref.ask(1000), 1000, 'an ask queued behind the tells is answered after them');
  assert.deepEqual(seen, Array.from({ length: 1001 }, (_, i) => i));
  assert.equal(maxInFlight, 1, 'never two messages at once');
  await system.shutdown();
});

test("overflow 'reject': tell and ask fail with MailboxFullError at capacity", { timeout: 5000 }, async () => {
  const system = new ActorSystem({ name: 'reject' });
  const g = gated();
  const ref = system.spawn<number>('r', { create: g.create, mailboxCapacity: 2, overflow: 'reject' });
  ref.tell(1);
  await sleep(10); // 1 is now in flight, parked on the gate
  ref.tell(2);
  ref.tell(3);
  assert.throws(() => ref.tell(4), MailboxFullError);
  await assert.rejects(ref.ask(5), (e: unknown) => e instanceof MailboxFullError && e.code === 'WEIR_ACTOR_MAILBOX_FULL');
  g.open();
  await sleep(10);
  ref.tell(6); // space again
  await sleep(10);
  assert.deepEqual(g.seen, [1, 2, 3, 6]);
  await system.shutdown();
});

test("overflow 'backpressure': tell never drops; send() blocks until space frees, waiters in order", { timeout: 5000 }, async () => {
  const system = new ActorSystem({ name: 'bp' });
  const g = gated();
  const ref = system.spawn<number>('bp', { create: g.create, mailboxCapacity: 2 });
  ref.tell(1);
  await sleep(10); // 1 in flight
  await ref.send(2);
  await ref.send(3); // mailbox now at capacity
  const accepted: number[] = [];
  const sends = [4, 5, 6].map((n) => ref.send(n).then(() => accepted.push(n)));
  await sleep(50);
  assert.deepEqual(accepted, [], 'senders are blocked while the mailbox is full');
  ref.tell(7); // tell is not blocked and not dropped, even past capacity
  g.open();
  await Promise.all(sends);
  assert.deepEqual(accepted, [4, 5, 6], 'blocked senders are admitted in call order');
  await ref.ask(0);
  assert.deepEqual(g.seen, [1, 2, 3, 7, 4, 5, 6, 0]);
  await system.shutdown();
});

test('a sender parked on a full mailbox is released when the actor stops', { timeout: 5000 }, async () => {
  const system = new ActorSystem({ name: 'release' });
  const g = gated();
  const ref = system.spawn<number>('r', { create: g.create, mailboxCapacity: 1 });
  ref.tell(1);
  await sleep(10);
  ref.tell(2);
  let released = false;
  const parked = ref.send(3).then(() => (released = true));
  await sleep(20);
  assert.equal(released, false);
  const stopping = system.stop(ref);
  await parked;
  g.open();
  await stopping;
  assert.deepEqual(g.seen, [1], 'queued messages are dropped by stop; the in-flight one completes');
  await system.shutdown();
});
