import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DiscardPolicy, jetstreamManager, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { PubAckPublisher } from './pub-acks.js';

const NATS = process.env.WEIR_NATS_URL ?? 'nats://127.0.0.1:4222';

describe('PubAckPublisher (real NATS)', { timeout: 60_000 }, () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const id = randomBytes(4).toString('hex');
  const stream = `T_pubacks_${id}`;
  const frames = (n: number) => Array.from({ length: n }, (_, i) => new TextEncoder().encode(`frame ${i}`));

  before(async () => {
    nc = await connect({ servers: NATS });
    jsm = await jetstreamManager(nc);
    // Two frames per subject, then refusals: like a full data channel.
    await jsm.streams.add({ name: stream, subjects: [`t.${id}.>`], storage: StorageType.Memory, discard: DiscardPolicy.New, max_msgs_per_subject: 2, discard_new_per_subject: true });
  });
  after(async () => {
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  });

  test('stored frames are in the stream in order; frames over a full channel are refused, not failed', async () => {
    const p = new PubAckPublisher(nc);
    assert.deepEqual(await p.publishAll(`t.${id}.a`, frames(4), 10_000), ['stored', 'stored', 'refused', 'refused']);
    const info = await jsm.streams.info(stream, { subjects_filter: `t.${id}.a` });
    assert.equal(info.state.messages, 2);
    const first = await jsm.streams.getMessage(stream, { seq: info.state.first_seq });
    assert.equal(new TextDecoder().decode(first!.data), 'frame 0');
    // Batches on other subjects share the one reply subscription.
    const [b, c] = await Promise.all([p.publishAll(`t.${id}.b`, frames(1), 10_000), p.publishAll(`t.${id}.c`, frames(2), 10_000)]);
    assert.deepEqual([b, c], [['stored'], ['stored', 'stored']]);
  });

  test('a subject no stream listens on is refused (no responders), so the sender retries', async () => {
    const p = new PubAckPublisher(nc);
    assert.deepEqual(await p.publishAll(`nostream.${id}`, frames(2), 10_000), ['refused', 'refused']);
  });

  test('a closed connection fails the outstanding publishes', async () => {
    // A plain subscriber that never answers: the publish stays outstanding until the close.
    const silent = nc.subscribe(`silent.${id}`);
    await nc.flush();
    const own = await connect({ servers: NATS });
    const p = new PubAckPublisher(own);
    const pending = p.publishAll(`silent.${id}`, frames(1), 10_000);
    await own.flush();
    await own.close();
    silent.unsubscribe();
    const [outcome] = await pending;
    assert.ok(outcome instanceof Error, `expected an error, got ${String(outcome)}`);
    // Later publishes on the closed connection fail too, without throwing.
    const later = await p.publishAll(`silent.${id}`, frames(2), 10_000);
    assert.equal(later.length, 2);
    for (const o of later) assert.ok(o instanceof Error, `expected an error, got ${String(o)}`);
  });
});
