import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ActorSystem } from './actor-system.js';
import { decode, decodeWire, encode, encodeWire } from './codec.js';
import { ActorError, ActorNotFoundError, AskTimeoutError, RemoteActorError } from './errors.js';
import { NatsTransport } from './nats-transport.js';

const NATS_URL = 'nats://127.0.0.1:4222';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Two systems on two connections sharing a fresh prefix; everything closed when the test ends. */
async function twoSystems(t: TestContext) {
  const prefix = `weir.test.${randomBytes(6).toString('hex')}`;
  const conns: NatsConnection[] = [];
  t.after(async () => {
    await Promise.all(conns.map((nc) => nc.close()));
  });
  for (let i = 0; i < 2; i++) conns.push(await connect({ servers: NATS_URL, timeout: 2000, name: `weir-actors-test-${i}` }));
  const [nc1, nc2] = conns as [NatsConnection, NatsConnection];
  const a = new ActorSystem({ name: 'a', transport: new NatsTransport(nc1, { prefix }) });
  const b = new ActorSystem({ name: 'b', transport: new NatsTransport(nc2, { prefix }) });
  t.after(async () => {
    await a.shutdown();
    await b.shutdown();
  });
  return { a, b, nc1, nc2, prefix };
}

type CalcMsg = { op: 'double' | 'fail' | 'plain-fail' | 'tell' | 'hang' | 'echo' | 'big' | 'names'; n?: number; v?: unknown };

/** What a checkpoint acknowledgement of `groups` key groups lists: a chain of blob names each. */
function blobNames(groups: number): Record<number, string[]> {
  return Object.fromEntries(Array.from({ length: groups }, (_, g) => [g, [`ks/count/${g}/1-3-base`, `ks/count/${g}/1-7-delta`, `ks/count/${g}/1-8-delta`, `ks/count/${g}/2-11-delta`, `ks/count/${g}/2-12-delta`]]));
}

function calc() {
  const told: unknown[] = [];
  return {
    told,
    props: {
      create: () => ({
        receive: (m: CalcMsg) => {
          switch (m.op) {
            case 'fail':
              throw Object.assign(new Error('no such op'), { code: 'MY_CODE' });
            case 'plain-fail':
              throw new TypeError('plain');
            case 'tell':
              return void told.push(m.n);
            case 'hang':
              return sleep(1000);
            case 'echo':
              return m.v;
            case 'big':
              return randomBytes(m.n ?? 0); // incompressible
            case 'names':
              return blobNames(m.n ?? 0);
            default:
              return { doubled: (m.n ?? 0) * 2, tags: ['x'] };
          }
        },
      }),
    },
  };
}

test('codec round-trips plain structures', () => {
  const v = { s: 'x', n: 1.5, big: 2 ** 40, a: [1, null, undefined], u: new Uint8Array([1, 2]), o: { deep: true } };
  const back = decode(encode(v)) as typeof v;
  assert.deepEqual({ ...back, u: [...back.u] }, { ...v, u: [1, 2] });
  assert.deepEqual(decode(encode(new Map([['k', 1]]))), { k: 1 });
});

test('NATS: two systems on two connections: ask round trip, tell, remote error code, child names', { timeout: 10_000 }, async (t) => {
  const { a, b, nc1, nc2 } = await twoSystems(t);
  const c = calc();
  a.spawn<CalcMsg>('calc', c.props);
  a.spawn<CalcMsg>('calc/child', c.props); // '/' maps to a subject token
  await nc1.flush(); // the subscriptions are live at the server
  const ref = b.ref<CalcMsg>('calc');
  assert.deepEqual(await ref.ask({ op: 'double', n: 21 }), { doubled: 42, tags: ['x'] });
  assert.deepEqual(await b.ref<CalcMsg>('calc/child').ask({ op: 'double', n: 1 }), { doubled: 2, tags: ['x'] });
  const bytes = (await ref.ask<Uint8Array>({ op: 'echo', v: new Uint8Array([7, 8]) })) as Uint8Array;
  assert.deepEqual([...bytes], [7, 8]);
  assert.equal(await ref.ask({ op: 'echo' }), undefined);

  const err = await ref.ask({ op: 'fail' }).catch((e: unknown) => e);
  assert.ok(err instanceof RemoteActorError, String(err));
  assert.equal(err.code, 'MY_CODE');
  assert.equal(err.remoteCode, 'MY_CODE');
  assert.match(err.message, /no such op/);
  const plain = await ref.ask({ op: 'plain-fail' }).catch((e: unknown) => e);
  assert.ok(plain instanceof RemoteActorError);
  assert.equal(plain.code, 'WEIR_ACTOR_REMOTE_ERROR');
  assert.equal(plain.remoteName, 'TypeError');

  for (let n = 0; n < 20; n++) ref.tell({ op: 'tell', n });
  await ref.ask({ op: 'echo' }); // same connection, same subject: ordered behind the tells
  assert.deepEqual(c.told, Array.from({ length: 20 }, (_, n) => n));

  // And the other way round: a reaches b's actors.
  b.spawn<string>('greeter', { create: () => ({ receive: (m: string) => `hello ${m}` }) });
  await nc2.flush();
  assert.equal(await a.ref<string>('greeter').ask('a'), 'hello a');
});

test('NATS: unknown name -> ActorNotFoundError quickly; slow actor -> AskTimeoutError; stopped actor -> not found', { timeout: 10_000 }, async (t) => {
  const { a, b, nc1 } = await twoSystems(t);
  a.spawn<CalcMsg>('calc', calc().props);
  await nc1.flush();
  let t0 = Date.now();
  await assert.rejects(b.ref('missing').ask('x', { timeoutMs: 3000 }), (e: unknown) => e instanceof ActorNotFoundError && e.code === 'WEIR_ACTOR_NOT_FOUND');
  assert.ok(Date.now() - t0 < 1000, `no-responders took ${Date.now() - t0} ms`);
  t0 = Date.now();
  await assert.rejects(b.ref<CalcMsg>('calc').ask({ op: 'hang' }, { timeoutMs: 200 }), AskTimeoutError);
  const took = Date.now() - t0;
  assert.ok(took >= 190 && took < 700, `timeout took ${took} ms`);
  await a.stop('calc');
  await nc1.flush();
  await assert.rejects(b.ref('calc').ask({ op: 'double' }, { timeoutMs: 2000 }), ActorNotFoundError);
});

test('NATS: a message, request or reply over the server\'s max_payload is a typed error at once (not a timeout, not an uncoded throw)', { timeout: 10_000 }, async (t) => {
  const { a, b, nc1, nc2 } = await twoSystems(t);
  a.spawn<CalcMsg>('calc', calc().props);
  await nc1.flush();
  const max = nc2.info!.max_payload;
  const tooLarge = (e: unknown) => (e as { code?: string }).code === 'WEIR_ACTOR_MESSAGE_TOO_LARGE' && /max_payload/.test((e as Error).message);
  const random = randomBytes(max + 1); // incompressible: large on the wire too
  await assert.rejects(b.ref<CalcMsg>('calc').ask({ op: 'echo', v: random }, { timeoutMs: 3000 }), tooLarge);
  assert.throws(() => b.ref<CalcMsg>('calc').tell({ op: 'echo', v: random }), tooLarge);
  const t0 = Date.now();
  await assert.rejects(b.ref<CalcMsg>('calc').ask({ op: 'big', n: max + 1 }, { timeoutMs: 3000 }), (e: unknown) => e instanceof RemoteActorError && tooLarge(e));
  assert.ok(Date.now() - t0 < 1000, `the too-large reply was answered in ${Date.now() - t0} ms, not timed out`);
  assert.equal(((await b.ref<CalcMsg>('calc').ask({ op: 'big', n: 1000 }, { timeoutMs: 3000 })) as Uint8Array).length, 1000, 'the actor goes on');
});

test('NATS: a message, request or reply several times the max_payload that compresses well (the blob names of 32768 key groups) arrives whole', { timeout: 20_000 }, async (t) => {
  const { a, b, nc1, nc2 } = await twoSystems(t);
  const calls = calc();
  a.spawn<CalcMsg>('calc', calls.props);
  await nc1.flush();
  const names = blobNames(32_768);
  assert.ok(encode(names).byteLength > 2 * nc2.info!.max_payload, `the plain message is ${encode(names).byteLength} bytes`);
  assert.deepEqual(await b.ref<CalcMsg>('calc').ask({ op: 'echo', v: names }, { timeoutMs: 10_000 }), names);
  assert.deepEqual(await b.ref<CalcMsg>('calc').ask({ op: 'names', n: 32_768 }, { timeoutMs: 10_000 }), names);
  b.ref<CalcMsg>('calc').tell({ op: 'tell', n: names as unknown as number });
  await nc2.flush();
  for (let i = 0; i < 100 && calls.told.length === 0; i++) await sleep(50);
  assert.deepEqual(calls.told, [names]);
});

test('codec: a large message is deflated on the wire and read back; small and incompressible ones go as they are; a corrupt deflated one is refused', () => {
  const names = blobNames(4096);
  const wire = encodeWire(names);
  assert.ok(wire.byteLength * 5 < encode(names).byteLength, `${wire.byteLength} bytes on the wire for ${encode(names).byteLength}`);
  assert.deepEqual(decodeWire(wire), names);
  const small = { n: 1 };
  assert.deepEqual(Buffer.from(encodeWire(small)), Buffer.from(encode(small)));
  const noise = randomBytes(200_000);
  assert.equal(encodeWire(noise).byteLength, encode(noise).byteLength);
  assert.deepEqual(Buffer.from(decodeWire(encodeWire(noise)) as Uint8Array), noise);
  const corrupt = Uint8Array.from(wire);
  corrupt.fill(0xff, 1, 64);
  assert.throws(() => decodeWire(corrupt));
});

test('NATS: names outside [A-Za-z0-9_-/] are refused with WEIR_ACTOR_BAD_NAME', { timeout: 5000 }, async (t) => {
  const { a, b } = await twoSystems(t);
  const bad = (e: unknown) => e instanceof ActorError && e.code === 'WEIR_ACTOR_BAD_NAME';
  assert.throws(() => a.spawn('has.dot', calc().props), bad);
  assert.throws(() => a.spawn('a//b', calc().props), bad);
  assert.throws(() => a.spawn('wild*', calc().props), bad);
  await assert.rejects(b.ref('has space').ask('x'), bad);
  assert.equal(a.ref('has.dot').name, 'has.dot', 'ref() itself never throws');
});
