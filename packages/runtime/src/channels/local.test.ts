import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { FrameKind, type Frame } from '../frames.js';
import type { EdgePlan } from '../plan.js';
import { subjects } from '../subjects.js';
import { JetStreamDataPlane } from './jetstream.js';
import { LocalChannel, LocalChannels, withLocalChannels } from './local.js';

const NATS = process.env.WEIR_NATS_URL ?? 'nats://127.0.0.1:4222';
const records = (...r: unknown[]): Frame => ({ kind: FrameKind.Records, records: r });
const tick = () => new Promise((r) => setImmediate(r));

describe('LocalChannel', () => {
  test('frames sent before the receiver subscribes arrive after it does, in order, as the same objects', async () => {
    const c = new LocalChannel(3);
    const sent = [records('a'), records('b'), { kind: FrameKind.End } as Frame];
    for (const f of sent) c.send(f);
    assert.equal(c.backlog, 3);
    const got: [number, Frame][] = [];
    c.attach(async (from, f) => void got.push([from, f]));
    await c.flushed();
    assert.equal(got.length, 3);
    for (let i = 0; i < 3; i++) {
      assert.equal(got[i]![0], 3, 'the sender index goes with every frame');
      assert.equal(got[i]![1], sent[i], 'no copy, no encoding');
    }
  });

  test('backpressure: ready() waits while the queue is at its bound and resumes as the receiver takes frames', async () => {
    const c = new LocalChannel(0, 2);
    let release: (() => void) | undefined;
    const got: Frame[] = [];
    // A receiver whose mailbox is full: each frame waits until released.
    c.attach((_, f) => new Promise<void>((r) => (release = () => (got.push(f), r()))));
    for (let i = 0; i < 4; i++) c.send(records(i));
    await tick();
    assert.equal(c.backlog, 3, 'one frame is being delivered, three wait');
    let ready = false;
    void c.ready().then(() => (ready = true));
    let flushed = false;
    void c.flushed().then(() => (flushed = true));
    await tick();
    assert.equal(ready, false);
    release!();
    await tick();
    assert.equal(ready, false, 'two frames still queued: at the bound');
    release!();
    await tick();
    assert.equal(ready, true);
    assert.equal(flushed, false);
    release!();
    await tick();
    release!();
    await tick();
    assert.equal(flushed, true);
    assert.deepEqual(got, [records(0), records(1), records(2), records(3)]);
  });

  test('close drops what is queued, releases waiting senders and ignores later sends', async () => {
    const c = new LocalChannel(0, 1);
    c.send(records(1));
    c.send(records(2));
    const waiting = Promise.all([c.ready(), c.flushed()]);
    await c.close();
    await waiting;
    c.send(records(3));
    assert.equal(c.backlog, 0);
    const got: Frame[] = [];
    c.attach(async (_, f) => void got.push(f));
    await tick();
    assert.deepEqual(got, []);
  });
});

describe('withLocalChannels over a JetStream data plane (real NATS)', { timeout: 60_000 }, () => {
  test('same-process channels skip the broker; a receiver reads its local and its remote senders', async () => {
    const nc = await connect({ servers: NATS });
    const cluster = `t${randomBytes(4).toString('hex')}`;
    const jobId = 'job';
    const plane = new JetStreamDataPlane(nc, cluster, pino({ level: 'silent' }));
    const edge: EdgePlan = { id: 0, fromNode: 0, toNode: 1, inputIndex: 0, partitioning: 'hash', chained: false, fromTask: 0, toTask: 1, senders: 2, receivers: 2 };
    try {
      await plane.prepare(jobId, 1, [edge]);
      const local = new LocalChannels();
      // As slot sharing places them: subtask k of both tasks in slot k, so only from === to is local.
      const channels = withLocalChannels(plane.channels(jobId, 1), (_, from, to) => from === to, local);
      const near = channels.output(edge, 0, 0);
      const far = channels.output(edge, 1, 0);
      assert.equal(near, local.channel(0, 0, 0));
      assert.ok(!(far instanceof LocalChannel));
      const a = records({ w: 'a' });
      const b = records({ w: 'b' });
      near.send(a);
      far.send(b);
      far.send({ kind: FrameKind.End });
      await far.flushed();
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(subjects.dataStream(cluster, jobId, 1));
      assert.equal(info.state.messages, 2, 'only the remote frames are in the stream');

      const got = new Map<number, Frame[]>();
      const sub = await channels.input(edge, 0, async (from, f) => void (got.get(from) ?? got.set(from, []).get(from)!).push(f));
      const deadline = Date.now() + 10_000;
      while ((got.get(1)?.length ?? 0) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await sub.stop();
      await far.close();
      assert.equal(got.get(0)?.[0], a, 'the local frame is the object that was sent');
      assert.deepEqual(got.get(1), [{ ...b, seq: 0 }, { kind: FrameKind.End, seq: 1 }], 'remote frames are decoded, with their channel seq');
    } finally {
      await plane.dispose(jobId, 1).catch(() => undefined);
      await nc.close();
    }
  });

  test('a frame that does not decode fails the input through onError instead of stalling it', async () => {
    const nc = await connect({ servers: NATS });
    const cluster = `t${randomBytes(4).toString('hex')}`;
    const plane = new JetStreamDataPlane(nc, cluster, pino({ level: 'silent' }));
    const edge: EdgePlan = { id: 0, fromNode: 0, toNode: 1, inputIndex: 0, partitioning: 'forward', chained: false, fromTask: 0, toTask: 1, senders: 1, receivers: 1 };
    try {
      await plane.prepare('job', 1, [edge]);
      await jetstream(nc).publish(subjects.data(cluster, 'job', 1, 0, 0, 0), new Uint8Array([1, 2, 3]));
      let failed: Error | undefined;
      const sub = await plane.channels('job', 1).input(edge, 0, async () => assert.fail('nothing decodes'), (e) => (failed = e));
      const deadline = Date.now() + 10_000;
      while (failed === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await sub.stop();
      assert.match(String(failed?.message), /not a frame/);
    } finally {
      await plane.dispose('job', 1).catch(() => undefined);
      await nc.close();
    }
  });
});
