/**
 * The broker's limit: bare JetStream publish + consume of pre-encoded frames, with a stream and
 * consumers configured like Weir's data plane (packages/runtime/src/channels/jetstream.ts).
 */
import { randomBytes } from 'node:crypto';
import { AckPolicy, DeliverPolicy, DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type ConsumerMessages, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { PubAckPublisher } from '@weir/runtime';
import { sleep, withTimeout } from './util.js';

export interface RawOptions {
  readonly natsUrl: string;
  readonly frames: readonly Uint8Array[];
  /** Channels = senders x receivers; frame i goes to channel i mod channels. */
  readonly senders: number;
  readonly receivers: number;
  /** Publishes in flight per channel (a sliding window: the next goes out as soon as one is acked). */
  readonly inFlight: number;
  /** Messages each pull consumer asks for ahead (Weir's fetchAhead default is 32). */
  readonly fetchAhead: number;
  readonly timeoutMs: number;
  /**
   * `js`: one `js.publish` per frame (the client's request path). `light`: Weir's own publish path
   * (PubAckPublisher: plain publishes with a reply inbox, PubAcks matched by id), in batches of 32
   * frames with `inFlight` frames outstanding per channel.
   */
  readonly publisher?: 'js' | 'light';
}

/** Frames per PubAckPublisher batch in the `light` raw test. */
const LIGHT_BATCH = 32;

export interface RawResult {
  readonly elapsedMs: number;
  /** Wall clock (ms since epoch) of the start and end of the timed part. */
  readonly startedAt: number;
  readonly endedAt: number;
  readonly frames: number;
  readonly bytes: number;
}

/** Streams created and not yet deleted, for cleanup when the bench is interrupted. */
export const liveRawStreams = new Set<string>();

/** Same test as Weir's sender uses to tell "stream full, retry" from a real failure. */
const isStreamFull = (e: unknown) => /maximum (messages|bytes)|resource|no responders|timeout|503/i.test(String((e as Error)?.message ?? e));

async function publishWithRetry(js: JetStreamClient, subject: string, frame: Uint8Array, deadline: number): Promise<void> {
  let backoff = 1;
  for (;;) {
    try {
      await js.publish(subject, frame, { timeout: 10_000 });
      return;
    } catch (e) {
      if (!isStreamFull(e) || Date.now() > deadline) throw e;
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 100);
    }
  }
}

/** `inFlight` concurrent `js.publish` loops over one channel's frames, in order of taking. */
function jsLanes(js: JetStreamClient, subject: string, frames: readonly Uint8Array[], inFlight: number, deadline: number): Promise<void>[] {
  let next = 0;
  return Array.from({ length: Math.min(inFlight, frames.length) }, async () => {
    while (next < frames.length) await publishWithRetry(js, subject, frames[next++]!, deadline);
  });
}

/** Weir's publish path: `inFlight / LIGHT_BATCH` concurrent loops, each publishing a batch and awaiting its PubAcks; refused frames go again. */
function lightLanes(light: PubAckPublisher, subject: string, frames: readonly Uint8Array[], inFlight: number, deadline: number): Promise<void>[] {
  let next = 0;
  const batch = Math.min(LIGHT_BATCH, inFlight);
  return Array.from({ length: Math.max(1, Math.floor(inFlight / batch)) }, async () => {
    let backoff = 1;
    let retry: Uint8Array[] = [];
    while (retry.length > 0 || next < frames.length) {
      const sending = retry.length > 0 ? retry : frames.slice(next, (next += batch));
      const outcomes = await light.publishAll(subject, sending, 10_000);
      const fatal = outcomes.find((x): x is Error => x instanceof Error);
      if (fatal) throw fatal;
      retry = sending.filter((_, i) => outcomes[i] !== 'stored');
      if (retry.length === 0) {
        backoff = 1;
        continue;
      }
      if (Date.now() > deadline) throw new Error(`raw light publish: ${retry.length} frames still refused`);
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 100);
    }
  });
}

/**
 * Publishes every frame from one connection while a second connection consumes and acks them
 * with pull consumers (`consume()`), concurrently. Elapsed time runs from the first publish (and
 * the consumers' first pull) to the last frame consumed.
 */
export async function rawPublishConsume(o: RawOptions): Promise<RawResult> {
  const name = `BENCH_RAW_${randomBytes(4).toString('hex')}`;
  const subject = (from: number, to: number) => `${name}.${from}.${to}`;
  let pub: NatsConnection | undefined;
  let sub: NatsConnection | undefined;
  let created = false;
  const iterators: ConsumerMessages[] = [];
  try {
    pub = await withTimeout(connect({ servers: o.natsUrl }), 10_000, 'connecting to NATS');
    sub = await withTimeout(connect({ servers: o.natsUrl }), 10_000, 'connecting to NATS');
    const jsm = await jetstreamManager(pub);
    // As JetStreamDataPlane.prepare: memory, work-queue retention, discard-new limits.
    await jsm.streams.add({
      name,
      subjects: [`${name}.>`],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.Memory,
      discard: DiscardPolicy.New,
      max_msgs: 20_000,
      max_bytes: 512 * 1024 * 1024,
      num_replicas: 1,
    });
    created = true;
    liveRawStreams.add(name);
    for (let to = 0; to < o.receivers; to++) {
      await jsm.consumers.add(name, {
        durable_name: `in_${to}`,
        filter_subject: `${name}.*.${to}`,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        max_ack_pending: 10_000,
        ack_wait: 60_000_000_000,
      });
    }
    const js = jetstream(pub);
    const consumers = await Promise.all(Array.from({ length: o.receivers }, (_, to) => jetstream(sub!).consumers.get(name, `in_${to}`)));

    // Frames per channel, in order.
    const channels = o.senders * o.receivers;
    const perChannel: Uint8Array[][] = Array.from({ length: channels }, () => []);
    o.frames.forEach((f, i) => perChannel[i % channels]!.push(f));

    const total = o.frames.length;
    let consumed = 0;
    let allConsumed!: () => void;
    const done = new Promise<void>((r) => (allConsumed = r));
    const deadline = Date.now() + o.timeoutMs;

    const startedAt = Date.now();
    const t0 = performance.now();
    for (const c of consumers) iterators.push(await c.consume({ max_messages: o.fetchAhead }));
    const consuming = iterators.map(async (it) => {
      for await (const m of it) {
        m.ack();
        if (++consumed === total) allConsumed();
      }
    });
    const light = o.publisher === 'light' ? new PubAckPublisher(pub) : undefined;
    const publishing = perChannel.flatMap((frames, c) => {
      const subj = subject(Math.floor(c / o.receivers), c % o.receivers);
      return light ? lightLanes(light, subj, frames, o.inFlight, deadline) : jsLanes(js, subj, frames, o.inFlight, deadline);
    });
    await withTimeout(Promise.all([Promise.all(publishing), done]), o.timeoutMs, `raw publish+consume of ${total} frames`);
    const elapsedMs = performance.now() - t0;
    for (const it of iterators) it.stop();
    await withTimeout(Promise.all(consuming), 5000, 'stopping consumers').catch(() => undefined);
    return { elapsedMs, startedAt, endedAt: startedAt + elapsedMs, frames: total, bytes: o.frames.reduce((n, f) => n + f.length, 0) };
  } finally {
    for (const it of iterators) it.stop();
    if (created && pub) {
      await withTimeout(jetstreamManager(pub).then((jsm) => jsm.streams.delete(name)), 10_000, `deleting stream ${name}`)
        .then(() => liveRawStreams.delete(name))
        .catch((e) => console.error(`bench: could not delete stream ${name}: ${String(e)}`));
    }
    await withTimeout(Promise.all([pub?.close(), sub?.close()]), 5000, 'closing NATS connections').catch(() => undefined);
  }
}
