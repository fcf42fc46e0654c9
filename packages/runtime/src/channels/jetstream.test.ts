import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { encodeRecords, FrameKind, frameSeq } from '../frames.js';
import type { EdgePlan } from '../plan.js';
import { subjects } from '../subjects.js';
import { checkDataPlaneOptions, JetStreamDataPlane, JetStreamOutput, type JetStreamDataPlaneOptions } from './jetstream.js';
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

/** A data plane of a fresh cluster id on the real NATS, for `fn`; attempts 1 and 2 of job 'job' are disposed after it. */
async function withPlane(options: JetStreamDataPlaneOptions, fn: (p: { nc: NatsConnection; cluster: string; plane: JetStreamDataPlane }) => Promise<void>): Promise<void> {
  const nc = await connect({ servers: process.env.WEIR_NATS_URL ?? 'nats://127.0.0.1:4222' });
  const cluster = `t${randomBytes(4).toString('hex')}`;
  const plane = new JetStreamDataPlane(nc, cluster, pino({ level: 'silent' }), options);
  try {
    await fn({ nc, cluster, plane });
  } finally {
    for (const attempt of [1, 2]) await plane.dispose('job', attempt).catch(() => undefined);
    await nc.close();
  }
}

const edgeOf = (partitioning: EdgePlan['partitioning'], senders: number, receivers: number): EdgePlan => ({ id: 0, fromNode: 0, toNode: 1, inputIndex: 0, partitioning, chained: false, fromTask: 0, toTask: 1, senders, receivers });
const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

test('one sender\'s gap does not keep another sender\'s delivered frames unacked: its retry still fits (real NATS)', { timeout: 60_000 }, async () => {
  // 4 frames per channel, so that a handful of unacked frames fill one.
  await withPlane({ maxFramesPerChannel: 4, window: 4 }, async ({ nc, cluster, plane }) => {
    const edge = edgeOf('rebalance', 2, 1);
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
    for (let i = 0; i < 60 && got.length < 7; i++) await settle();
    await sub.stop(); // sends the last ack
    assert.deepEqual(got.filter((g) => g.startsWith('0:')), ['0:0', '0:1', '0:2', '0:3', '0:4'], 'in order, once each');
    assert.deepEqual(got.filter((g) => g.startsWith('1:')), ['1:0', '1:1']);
    // The consumer's ack floor, read until it settles: JetStream applies acks a moment after receiving them.
    const jsm = await jetstreamManager(nc);
    const consumerInfo = () => jsm.consumers.info(subjects.dataStream(cluster, 'job', 1), subjects.dataConsumer(0, 0));
    let consumer = await consumerInfo();
    for (let i = 0; i < 50 && consumer.num_ack_pending > 0; i++) {
      await settle(20);
      consumer = await consumerInfo();
    }
    assert.equal(consumer.num_ack_pending, 0, 'every frame acked');
    assert.equal(consumer.ack_floor.stream_seq, consumer.delivered.stream_seq);
  });
});

test('a stream that goes away under a receiver fails it through onError instead of leaving it waiting (real NATS)', { timeout: 60_000 }, async () => {
  await withPlane({}, async ({ plane }) => {
    const edge = edgeOf('forward', 1, 1);
    await plane.prepare('job', 1, [edge]);
    let failed: Error | undefined;
    const sub = await plane.channels('job', 1).input(edge, 0, async () => undefined, (e) => (failed = e));
    await plane.dispose('job', 1); // as a nats-server restart does to a memory stream
    for (let i = 0; i < 1500 && failed === undefined; i++) await settle(20);
    await sub.stop();
    assert.ok(failed, 'the receiver failed');
  });
});

test('the stream holds every channel full by default: its own limit never binds before the channels\' (real NATS)', { timeout: 30_000 }, async () => {
  // 20 x 20 channels of 64 frames: 25,600 > the base of 20,000. A chained edge has no channels.
  const edge = edgeOf('hash', 20, 20);
  const maxMsgs = async (nc: NatsConnection, cluster: string, attempt: number) => (await (await jetstreamManager(nc)).streams.info(subjects.dataStream(cluster, 'job', attempt))).config.max_msgs;
  await withPlane({}, async ({ nc, cluster, plane }) => {
    await plane.prepare('job', 1, [edge, { ...edge, id: 1, chained: true }]);
    assert.equal(await maxMsgs(nc, cluster, 1), 25_600);
  });
  await withPlane({ maxFrames: 1_000 }, async ({ nc, cluster, plane }) => {
    await plane.prepare('job', 2, [edge]);
    assert.equal(await maxMsgs(nc, cluster, 2), 1_000, 'a set limit is kept');
  });
});
