import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { jetstreamSink, jetstreamSource } from './jetstream.js';
import { commitMarkerStream } from './jetstream-commits.js';
import { FINAL_TRANSACTION } from './types.js';
import { isTransactional, type ConnectorContext, type SourceReader, type TransactionalSinkWriter } from './types.js';

const NATS = process.env.WEIR_NATS_URL ?? 'nats://127.0.0.1:4222';

describe('JetStream connectors (real NATS)', { timeout: 60_000 }, () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const streams: string[] = [];
  const id = randomBytes(4).toString('hex');
  const ctx = (subtask: number, parallelism: number): ConnectorContext => ({ subtask, parallelism, operatorUid: 'op', jobId: `job${id}`, redisUrl: '', log: pino({ level: 'silent' }), nats: async () => nc });
  const stream = async (name: string, messages: number, config: Record<string, unknown> = {}) => {
    const n = `T_${name}_${id}`;
    streams.push(n);
    await jsm.streams.add({ name: n, subjects: [`t.${id}.${name}`], ...config });
    for (let i = 1; i <= messages; i++) nc.publish(`t.${id}.${name}`, `m${i}`);
    await nc.flush();
    return n;
  };
  async function drain(reader: SourceReader, max = 100_000): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < max; i++) {
      const b = await reader.poll(100);
      if (b === null) break;
      out.push(...(b as string[]));
    }
    await reader.close();
    return out;
  }

  before(async () => {
    nc = await connect({ servers: NATS });
    jsm = await jetstreamManager(nc);
  });
  after(async () => {
    for (const s of streams) for (const name of [s, commitMarkerStream(s)]) await jsm.streams.delete(name).catch(() => undefined);
    await nc.close();
  });

  test('source start: earliest, a sequence, latest, and a bad start', async () => {
    const s = await stream('start', 20);
    assert.equal((await drain(await jetstreamSource({ stream: s, bounded: true }, ctx(0, 1)))).length, 20);
    assert.deepEqual((await drain(await jetstreamSource({ stream: s, bounded: true, start: { sequence: 18 } }, ctx(0, 1)))), ['m18', 'm19', 'm20']);
    assert.deepEqual(await drain(await jetstreamSource({ stream: s, bounded: true, start: 'latest' }, ctx(0, 1))), []);
    assert.deepEqual(await drain(await jetstreamSource({ stream: s, bounded: true, start: { time: Date.now() - 60_000 } }, ctx(0, 1))).then((r) => r.length), 20);
    await assert.rejects(jetstreamSource({ stream: s, start: { sequence: 0 } }, ctx(0, 1)), (e: { code?: string }) => e.code === 'WEIR_SOURCE_START_INVALID');
    await assert.rejects(jetstreamSource({ stream: s, start: { time: 'not a date' } }, ctx(0, 1)), (e: { code?: string }) => e.code === 'WEIR_SOURCE_START_INVALID');
  });

  test('source position: a reader restored from it continues with no loss and no repeat, per subtask', async () => {
    const s = await stream('pos', 1000);
    const seen: string[] = [];
    for (const subtask of [0, 1]) {
      const first = await jetstreamSource({ stream: s, bounded: true }, ctx(subtask, 2));
      const part = (await first.poll(100)) as string[];
      const position = first.position();
      await first.close();
      seen.push(...part, ...(await drain(await jetstreamSource({ stream: s, bounded: true }, ctx(subtask, 2), position))));
    }
    assert.equal(seen.length, 1000);
    assert.equal(new Set(seen).size, 1000);
  });

  test('exactly-once sink: nothing before commit; a repeated commit is dropped by the duplicate window', async () => {
    const s = await stream('eo', 0);
    const sink = await jetstreamSink({ subject: `t.${id}.eo`, delivery: 'exactly-once' }, ctx(0, 1));
    assert.ok(isTransactional(sink));
    const w = sink as TransactionalSinkWriter<(Uint8Array | string)[]>;
    await w.write(['a', 'b', 'c']);
    assert.equal((await jsm.streams.info(s)).state.messages, 0, 'staged, not published');
    const { txn } = w.preCommit(1);
    await w.write(['d']);
    await w.commit(1, txn, 0);
    assert.equal((await jsm.streams.info(s)).state.messages, 3);
    await w.commit(1, txn, 0); // after a recovery
    assert.equal((await jsm.streams.info(s)).state.messages, 3, 'the repeated commit was deduplicated');
    await w.commit(2, w.preCommit(2).txn, 0);
    assert.equal((await jsm.streams.info(s)).state.messages, 4);
    // After a rescale another subtask commits the restored transaction, under its origin's ids.
    const other = (await jetstreamSink({ subject: `t.${id}.eo`, delivery: 'exactly-once' }, ctx(1, 2))) as TransactionalSinkWriter<(Uint8Array | string)[]>;
    await other.commit(1, txn, 0);
    assert.equal((await jsm.streams.info(s)).state.messages, 4, 'committed by another subtask, still deduplicated');
  });

  test('exactly-once sink: a transaction restored after the duplicate window forgot its ids is not published again (commit markers)', async () => {
    const s = await stream('late', 0, { duplicate_window: 1_000_000_000 });
    const open = async () => (await jetstreamSink({ subject: `t.${id}.late`, delivery: 'exactly-once', minDuplicateWindowMs: 1000 }, ctx(0, 1))) as TransactionalSinkWriter<(Uint8Array | string)[]>;
    const messages = async () => (await jsm.streams.info(s)).state.messages;
    const first = await open();
    await first.write(['a', 'b']);
    const { txn } = first.preCommit(1);
    await first.commit(1, txn, 0);
    assert.equal(await messages(), 2);
    await new Promise((r) => setTimeout(r, 1300)); // the stream no longer remembers the ids
    // A restore (a new sink instance, as after a failover or a rescale) commits the checkpoint's
    // pending transaction again: before 2026-12-05 the two records were published twice.
    const restored = await open();
    await restored.commit(1, txn, 0);
    assert.equal(await messages(), 2, 'the marker says checkpoint 1 of origin 0 is published');
    await restored.commit(1, ['x'], 1);
    assert.equal(await messages(), 3, 'another origin has its own marker');
    await restored.commit(2, ['c'], 0);
    await restored.commit(FINAL_TRANSACTION, ['z'], 0);
    assert.equal(await messages(), 5);
    // The final transaction leaves no marker above the checkpoints of a later attempt of this origin.
    await (await open()).commit(3, ['d'], 0);
    assert.equal(await messages(), 6);
    assert.equal((await jsm.streams.info(commitMarkerStream(s))).state.messages, 2, 'one marker per origin');
  });

  test('exactly-once sink: a marker stream that exists is used as it is (another expiry, made by hand); one without the markers\' subjects is a clear error; uids with dots make valid marker subjects', async () => {
    const open = async (name: string, uid: string, markerExpiryMs?: number) => (await jetstreamSink({ subject: `t.${id}.${name}`, delivery: 'exactly-once', ...(markerExpiryMs ? { markerExpiryMs } : {}) }, { ...ctx(0, 1), operatorUid: uid })) as TransactionalSinkWriter<(Uint8Array | string)[]>;
    const shared = await stream('shared', 0);
    await (await open('shared', 'out.', 1000)).commit(1, ['a'], 0);
    const second = await open('shared', 'a..b'); // the default expiry: the stream made by the first is used as it is
    await second.commit(1, ['b'], 0);
    await second.commit(1, ['b'], 0);
    assert.equal((await jsm.streams.info(shared)).state.messages, 2);
    assert.equal((await jsm.streams.info(commitMarkerStream(shared))).state.messages, 2, 'a marker each');
    const byHand = await stream('byhand', 0);
    await jsm.streams.add({ name: commitMarkerStream(byHand), subjects: [`weir.commits.${byHand}.>`], max_msgs_per_subject: 1 });
    await (await open('byhand', 'op')).commit(3, ['c'], 0);
    assert.equal((await jsm.streams.info(commitMarkerStream(byHand))).state.messages, 1);
    const wrong = await stream('wrong', 0);
    await jsm.streams.add({ name: commitMarkerStream(wrong), subjects: [`elsewhere.${id}`] });
    await assert.rejects(open('wrong', 'op'), (e: { code?: string; message: string }) => e.code === 'WEIR_SINK_MARKERS_UNAVAILABLE' && e.message.includes(`weir.commits.${wrong}.>`));
  });

  test('exactly-once sink refuses a stream whose duplicate window is too short; a missing stream is a clear error', async () => {
    await stream('short', 0, { duplicate_window: 1_000_000_000 });
    await assert.rejects(jetstreamSink({ subject: `t.${id}.short`, delivery: 'exactly-once' }, ctx(0, 1)), (e: { code?: string; message: string }) => e.code === 'WEIR_SINK_DUPLICATE_WINDOW_TOO_SMALL' && /1000 ms/.test(e.message));
    await assert.rejects(jetstreamSink({ subject: `t.${id}.nowhere` }, ctx(0, 1)), (e: { code?: string }) => e.code === 'WEIR_SINK_STREAM_NOT_FOUND');
  });
});
