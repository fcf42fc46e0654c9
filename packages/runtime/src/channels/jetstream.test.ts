import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { encodeRecords, FrameKind, frameSeq } from '../frames.js';
import type { EdgePlan } from '../plan.js';
import { subjects } from '../subjects.js';
import { checkDataPlaneOptions, JetStreamDataPlane, JetStreamOutput } from './jetstream.js';
import type { PubAckPublisher, PublishOutcome } from './pub-acks.js';

const invalid = (re: RegExp) => (e: unknown) => {
  assert.equal((e as { code?: string }).code, 'WEIR_CONFIG_INVALID', String(e));
  assert.match((e as Error).message, re);
  return true;
};

test('the defaults and a window up to the per-channel limit pass', () => {
  checkDataPlaneOptions({});
  checkDataPlaneOptions({ window: 64, maxFramesPerChannel: 64 });
  checkDataPlaneOptions({ window: 4096, maxFramesPerChannel: 0 }); // no per-channel limit
});

test('a window larger than the per-channel limit is refused: the held-back frames could block the retry', () => {
  assert.throws(() => checkDataPlaneOptions({ window: 65 }), invalid(/window \(65 publishes in flight\) exceeds maxFramesPerChannel \(64\).*at most 64/));
  assert.throws(() => checkDataPlaneOptions({ window: 8, maxFramesPerChannel: 4 }), invalid(/at most 4/));
});

test('counts must be whole and positive', () => {
  for (const [name, v] of [['window', 0], ['fetchAhead', 1.5], ['queueBound', -1], ['maxFrames', Number.NaN], ['maxBytes', 0]] as const) {
    assert.throws(() => checkDataPlaneOptions({ [name]: v }), invalid(new RegExp(`${name} is`)));
  }
  assert.throws(() => checkDataPlaneOptions({ maxFramesPerChannel: -1 }), invalid(/maxFramesPerChannel is -1/));
});

test('a refused frame is retried alone: frames after it wait, so those held back cannot fill the channel', async () => {
  // Scripted PubAcks: the channel is full when frame 1 comes, and has room again for 2 and 3.
  const batches: number[][] = [];
  const publisher = {
    publishAll: async (_subject: string, frames: readonly Uint8Array[]): Promise<PublishOutcome[]> => {
      const seqs = frames.map((f) => frameSeq(f));
      batches.push(seqs);
      return seqs.map((s) => (s === 1 && batches.length < 3 ? 'refused' : 'stored'));
    },
  } as unknown as PubAckPublisher;
  const out = new JetStreamOutput(publisher, 'weir.t.data', 16, 4, pino({ level: 'silent' }));
  for (let i = 0; i < 8; i++) out.send({ kind: FrameKind.Records, records: [i] });
  await out.flushed();
  assert.deepEqual(batches, [[0, 1, 2, 3], [1], [1], [4, 5, 6, 7]]);
});

test('one sender\'s gap does not keep another sender\'s delivered frames unacked: its retry still fits (real NATS)', { timeout: 60_000 }, async () => {
  const nc = await connect({ servers: process.env.WEIR_NATS_URL ?? 'nats://127.0.0.1:4222' });
  const cluster = `t${randomBytes(4).toString('hex')}`;
  // 4 frames per channel, so that a handful of unacked frames fill one.
  const plane = new JetStreamDataPlane(nc, cluster, pino({ level: 'silent' }), { maxFramesPerChannel: 4, window: 4 });
  const edge: EdgePlan = { id: 0, fromNode: 0, toNode: 1, inputIndex: 0, partitioning: 'rebalance', chained: false, fromTask: 0, toTask: 1, senders: 2, receivers: 1 };
  const js = jetstream(nc);
  /** Publishes frame `seq` of sender `from` as its channel would; false if the stream refused it. */
  const publish = async (from: number, seq: number) => {
    try {
      await js.publish(subjects.data(cluster, 'job', 1, 0, from, 0), encodeRecords(seq, [`${from}/${seq}`]));
      return true;
    } catch {
      return false;
    }
  };
  const settle = () => new Promise((r) => setTimeout(r, 150));
  try {
    await plane.prepare('job', 1, [edge]);
    const got: string[] = [];
    const sub = await plane.channels('job', 1).input(edge, 0, async (from, f) => void got.push(`${from}:${(f as { seq?: number }).seq}`));
    // Sender 1's frame 0 is being retried and its frame 1 overtook it: 1:1 is held.
    assert.ok(await publish(1, 1));
    await settle();
    // Sender 0's frames 0-2 are delivered meanwhile; then its frame 3 is refused and 4 overtakes it.
    for (const seq of [0, 1, 2, 4]) assert.ok(await publish(0, seq));
    await settle();
    // Sender 1's retry lands: its gap closes. Sender 0's frames delivered before its own gap can now be acked.
    assert.ok(await publish(1, 0));
    await settle();
    let stored = false;
    for (let i = 0; i < 50 && !stored; i++) {
      stored = await publish(0, 3);
      if (!stored) await settle();
    }
    assert.ok(stored, "sender 0's retried frame was stored");
    const deadline = Date.now() + 10_000;
    while (got.length < 7 && Date.now() < deadline) await settle();
    await sub.stop(); // sends the last ack
    assert.deepEqual(got.filter((g) => g.startsWith('0:')), ['0:0', '0:1', '0:2', '0:3', '0:4'], 'in order, once each');
    assert.deepEqual(got.filter((g) => g.startsWith('1:')), ['1:0', '1:1']);
    // The consumer's ack floor, read until it settles: JetStream applies acks a moment after receiving them.
    const jsm = await jetstreamManager(nc);
    const consumerInfo = () => jsm.consumers.info(subjects.dataStream(cluster, 'job', 1), subjects.dataConsumer(0, 0));
    let consumer = await consumerInfo();
    for (let i = 0; i < 50 && consumer.num_ack_pending > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      consumer = await consumerInfo();
    }
    assert.equal(consumer.num_ack_pending, 0, 'every frame acked');
    assert.equal(consumer.ack_floor.stream_seq, consumer.delivered.stream_seq);
  } finally {
    await plane.dispose('job', 1).catch(() => undefined);
    await nc.close();
  }
});

test('a stream that goes away under a receiver fails it through onError instead of leaving it waiting (real NATS)', { timeout: 60_000 }, async () => {
  const nc = await connect({ servers: process.env.WEIR_NATS_URL ?? 'nats://127.0.0.1:4222' });
  const cluster = `t${randomBytes(4).toString('hex')}`;
  const plane = new JetStreamDataPlane(nc, cluster, pino({ level: 'silent' }));
  const edge: EdgePlan = { id: 0, fromNode: 0, toNode: 1, inputIndex: 0, partitioning: 'forward', chained: false, fromTask: 0, toTask: 1, senders: 1, receivers: 1 };
  try {
    await plane.prepare('job', 1, [edge]);
    let failed: Error | undefined;
    const sub = await plane.channels('job', 1).input(edge, 0, async () => undefined, (e) => (failed = e));
    await plane.dispose('job', 1); // as a nats-server restart does to a memory stream
    const deadline = Date.now() + 30_000;
    while (failed === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await sub.stop();
    assert.ok(failed, 'the receiver failed');
  } finally {
    await plane.dispose('job', 1).catch(() => undefined);
    await nc.close();
  }
});
