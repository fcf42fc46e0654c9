import { AckPolicy, DeliverPolicy, DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { WeirError } from '@weir/sdk';
import type { Logger } from 'pino';
import { decodeFrame, encodeFrame, FrameKind, frameSeq, type Frame } from '../frames.js';
import { type EdgePlan } from '../plan.js';
import { subjects } from '../subjects.js';
import type { ChannelFactory, DataPlane, InputSubscription, OutputChannel } from './channel.js';
import { PubAckPublisher } from './pub-acks.js';
import { QueuedOutput } from './send-waiters.js';

export interface JetStreamDataPlaneOptions {
  /** Frames one attempt's stream may hold; beyond it publishes are refused and senders wait. */
  readonly maxFrames?: number;
  /**
   * Frames one channel may hold unconsumed (default 64; 0: no per-channel limit). Small, so that a barrier never waits
   * behind a long backlog: checkpoint time stays bounded under backpressure.
   */
  readonly maxFramesPerChannel?: number;
  readonly maxBytes?: number;
  /** Frames a sender queues per channel before its task waits (backpressure). */
  readonly queueBound?: number;
  /** Frames a receiver fetches ahead. */
  readonly fetchAhead?: number;
  /** Publishes in flight per channel; the receiver restores order by frame sequence number. */
  readonly window?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const DEFAULT_WINDOW = 8;
const DEFAULT_MAX_FRAMES_PER_CHANNEL = 64;

/**
 * Checks the options that must agree. A receiver holds the frames that overtook a refused publish
 * until the retry lands, unacknowledged, so they keep their places in the channel: up to a
 * window's worth less one. A window of more frames than the channel may hold could fill it with
 * them and refuse the retry for ever.
 * @throws WeirError `WEIR_CONFIG_INVALID`
 */
export function checkDataPlaneOptions(o: JetStreamDataPlaneOptions): void {
  const window = o.window ?? DEFAULT_WINDOW;
  const perChannel = o.maxFramesPerChannel ?? DEFAULT_MAX_FRAMES_PER_CHANNEL;
  const positive = (v: number | undefined): boolean => v === undefined || (Number.isSafeInteger(v) && v >= 1);
  for (const name of ['window', 'fetchAhead', 'queueBound', 'maxFrames', 'maxBytes'] as const) {
    if (!positive(o[name])) throw new WeirError('WEIR_CONFIG_INVALID', `data plane option ${name} is ${String(o[name])}; use a whole number of at least 1`);
  }
  if (!Number.isSafeInteger(perChannel) || perChannel < 0) throw new WeirError('WEIR_CONFIG_INVALID', `data plane option maxFramesPerChannel is ${String(perChannel)}; use a whole number (0: no per-channel limit)`);
  if (perChannel !== 0 && window > perChannel) {
    throw new WeirError('WEIR_CONFIG_INVALID', `data plane option window (${window} publishes in flight) exceeds maxFramesPerChannel (${perChannel}): frames held back behind a refused publish could fill the channel and block its retry for ever; use a window of at most ${perChannel}`);
  }
}

/**
 * The stream's frame limit unless set: 20,000, or every channel full if that is more. A stream
 * limit that binds before the channels' own lets frames parked behind gaps on every receiver
 * take all the places, and no retry could land (a stall of the whole job).
 */
function defaultMaxFrames(edges: readonly EdgePlan[], perChannel: number): number {
  const channels = edges.filter((e) => !e.chained).reduce((n, e) => n + e.senders * e.receivers, 0);
  return Math.max(20_000, perChannel * channels);
}

/** Largest frame we publish; NATS refuses payloads over max_payload (1 MiB by default). */
const MAX_FRAME_BYTES = 900 * 1024;

/**
 * Internal channels over JetStream: one memory stream per job attempt, work-queue retention (a
 * frame is deleted once acknowledged), discard-new limits (a full stream refuses publishes; the
 * sender waits and retries: backpressure, never loss), one durable pull consumer per
 * (edge, receiver subtask) with a wildcard on the sender.
 */
export class JetStreamDataPlane implements DataPlane {
  private jsm: JetStreamManager | undefined;
  private readonly js: JetStreamClient;
  /** Created on first use: the coordinator's data plane only prepares and disposes. */
  private publisher: PubAckPublisher | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly cluster: string,
    private readonly log: Logger,
    private readonly options: JetStreamDataPlaneOptions = {},
  ) {
    checkDataPlaneOptions(options);
    this.js = jetstream(nc);
  }

  private async manager(): Promise<JetStreamManager> {
    return (this.jsm ??= await jetstreamManager(this.nc));
  }

  async prepare(jobId: string, attempt: number, edges: readonly EdgePlan[]): Promise<void> {
    const jsm = await this.manager();
    const stream = subjects.dataStream(this.cluster, jobId, attempt);
    await jsm.streams.add({
      name: stream,
      subjects: [subjects.dataOfAttempt(this.cluster, jobId, attempt)],
      // Interest: a frame is deleted once its (single) consumer acked it; unlike work-queue it allows AckAll.
      retention: RetentionPolicy.Interest,
      storage: StorageType.Memory,
      discard: DiscardPolicy.New,
      max_msgs: this.options.maxFrames ?? defaultMaxFrames(edges, this.options.maxFramesPerChannel ?? DEFAULT_MAX_FRAMES_PER_CHANNEL),
      // One subject per channel: a per-subject limit with discard-new bounds each channel's backlog.
      ...(this.options.maxFramesPerChannel === 0 ? {} : { max_msgs_per_subject: this.options.maxFramesPerChannel ?? DEFAULT_MAX_FRAMES_PER_CHANNEL, discard_new_per_subject: true }),
      max_bytes: this.options.maxBytes ?? 512 * 1024 * 1024,
      num_replicas: 1,
    });
    for (const edge of edges) {
      if (edge.chained) continue;
      for (let to = 0; to < edge.receivers; to++) {
        await jsm.consumers.add(stream, {
          durable_name: subjects.dataConsumer(edge.id, to),
          filter_subject: subjects.dataInto(this.cluster, jobId, attempt, edge.id, to),
          // AckAll: one ack covers every earlier frame of the consumer, so receivers ack in batches.
          ack_policy: AckPolicy.All,
          deliver_policy: DeliverPolicy.All,
          max_ack_pending: 10_000,
          ack_wait: 60_000_000_000,
        });
      }
    }
  }

  async dispose(jobId: string, attempt: number): Promise<void> {
    const jsm = await this.manager();
    try {
      await jsm.streams.delete(subjects.dataStream(this.cluster, jobId, attempt));
    } catch (e) {
      if (!/not found/i.test(String((e as Error).message))) throw e;
    }
  }

  channels(jobId: string, attempt: number): ChannelFactory {
    const stream = subjects.dataStream(this.cluster, jobId, attempt);
    return {
      output: (edge, from, to) =>
        new JetStreamOutput((this.publisher ??= new PubAckPublisher(this.nc)), subjects.data(this.cluster, jobId, attempt, edge.id, from, to), this.options.queueBound ?? 16, this.options.window ?? DEFAULT_WINDOW, this.log),
      input: async (edge, to, deliver, onError) => {
        const consumer = await this.js.consumers.get(stream, subjects.dataConsumer(edge.id, to));
        const fetchAhead = this.options.fetchAhead ?? 32;
        // Refill at half, not at the client's default of 3/4: half as many pull requests.
        // A stream or consumer that is gone (a nats-server restart loses memory streams) ends the
        // iteration with an error, which fails the task: the client would otherwise wait for it for ever.
        const messages = await consumer.consume({ max_messages: fetchAhead, threshold_messages: Math.max(1, fetchAhead >> 1), abort_on_missing_resource: true });
        const order = new Map<number, Reorder>();
        // Held frames in delivery order. An ack (AckAll) may cover only what was delivered before
        // the first of them. Waiting for none to be held instead let one sender's gap keep another
        // sender's delivered frames unacked; they filled that sender's channel, and a refused frame
        // of it could then never be stored (a stall for good).
        const held: Held[] = [];
        const acks = new BatchedAck();
        /** After each delivered message: ack what no held frame precedes. */
        const ack = (latest: JsMsg) => {
          while (held.length > 0 && held[0]!.released) held.shift();
          const upTo = held.length === 0 ? latest : held[0]!.before;
          if (upTo) acks.delivered(upTo);
        };
        let previous: JsMsg | undefined;
        const loop = (async () => {
          for await (const m of messages) {
            const before = previous;
            previous = m;
            const from = senderOf(m.subject);
            let r = order.get(from);
            if (!r) order.set(from, (r = { next: 0, held: new Map() }));
            const seq = frameSeq(m.data);
            if (seq < r.next || r.held.has(seq)) continue; // a duplicate from a retried publish
            if (seq > r.next) {
              // An earlier frame of this sender is being retried: hold this one.
              const h: Held = { m, before, released: false };
              r.held.set(seq, h);
              held.push(h);
              continue;
            }
            await deliver(from, decodeFrame(m.data));
            r.next++;
            for (let h = r.held.get(r.next); h !== undefined; h = r.held.get(r.next)) {
              r.held.delete(r.next);
              h.released = true;
              await deliver(from, decodeFrame(h.m.data));
              r.next++;
            }
            ack(m);
          }
        })();
        let stopped = false;
        loop.catch((e: unknown) => {
          if (!stopped) onError?.(e instanceof Error ? e : new Error(String(e)));
        });
        return {
          stop: async () => {
            stopped = true;
            acks.flush();
            messages.stop();
            await loop.catch(() => undefined);
          },
        } satisfies InputSubscription;
      },
    };
  }
}

/** The sender subtask of a data subject: weir.<cluster>.data.<job>.<attempt>.<edge>.<from>.<to> */
function senderOf(subject: string): number {
  const end = subject.lastIndexOf('.');
  return Number(subject.slice(subject.lastIndexOf('.', end - 1) + 1, end));
}

/** Acks (AckAll) every 16th delivered frame, or the last one after 2 ms without more. */
class BatchedAck {
  private last: JsMsg | undefined;
  /** The stream sequence of the newest frame passed in: an older or the same one acks nothing new. */
  private newest = 0;
  private count = 0;
  private timer: NodeJS.Timeout | undefined;
  delivered(m: JsMsg): void {
    if (m.seq <= this.newest) return;
    this.newest = m.seq;
    this.last = m;
    if (++this.count % 16 === 0) return this.flush();
    this.timer ??= setTimeout(() => this.flush(), 2);
  }
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.last?.ack();
    this.last = undefined;
  }
}

/** Per sender: the next frame sequence to deliver, and frames that arrived ahead of it. */
interface Reorder {
  next: number;
  held: Map<number, Held>;
}

/** A frame that arrived ahead of its sender's next one, and the message delivered just before it. */
interface Held {
  readonly m: JsMsg;
  readonly before: JsMsg | undefined;
  /** Delivered since: no longer stops acks. */
  released: boolean;
}

/**
 * Publishes one channel's frames with up to `window` publishes in flight, retrying those refused
 * while the stream is full. A retry can land after later frames: the receiver puts frames back in
 * sequence order and drops duplicates (a publish that timed out may have been stored).
 */
export class JetStreamOutput extends QueuedOutput<Uint8Array> implements OutputChannel {
  /** The next frame's sequence number on this channel (the receiver's order and duplicate check). */
  private seq = 0;
  private pumping = false;
  private closed = false;

  constructor(
    private readonly publisher: PubAckPublisher,
    private readonly subject: string,
    bound: number,
    private readonly window: number,
    private readonly log: Logger,
  ) {
    super(bound);
  }

  send(frame: Frame): void {
    this.enqueue(frame);
    if (this.pumping) return;
    // Start after the sender's synchronous batch, so the first publishes carry a window of frames, not one.
    this.pumping = true;
    queueMicrotask(() => void this.pump());
  }

  /** Encode; a batch of records too large for one NATS message goes as several frames. */
  private enqueue(frame: Frame): void {
    const bytes = encodeFrame(this.seq, frame);
    if (bytes.length > MAX_FRAME_BYTES && frame.kind === FrameKind.Records && frame.records.length > 1) {
      const half = frame.records.length >> 1;
      this.enqueue({ kind: FrameKind.Records, records: frame.records.slice(0, half) });
      this.enqueue({ kind: FrameKind.Records, records: frame.records.slice(half) });
      return;
    }
    this.seq++;
    this.queue.push(bytes);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.waiters.close();
  }

  private async pump(): Promise<void> {
    let backoff = 1;
    /** Refused frames at the head of the queue: they are retried alone, see below. */
    let refused = 0;
    while (this.queue.length > 0 && !this.closed) {
      // While a frame is refused, the receiver holds the later frames that were stored, unacked,
      // in the channel's places. Publishing new frames beside the retry could let them take the
      // last places, round after round, until the retry never fits: so retries go alone.
      const batch = this.queue.slice(0, refused > 0 ? refused : this.window);
      const outcomes = await this.publisher.publishAll(this.subject, batch, 10_000);
      if (this.closed) break;
      // Keep the refused frames, in order, at the head of the queue; drop the stored ones.
      const failed = batch.filter((_, i) => outcomes[i] !== 'stored');
      this.queue.splice(0, batch.length, ...failed);
      refused = failed.length;
      this.waiters.notify();
      const fatal = outcomes.find((o): o is Error => o instanceof Error);
      if (fatal) {
        this.waiters.fail(new WeirError('WEIR_CHANNEL_PUBLISH_FAILED', `publishing to ${this.subject} failed: ${fatal.message}`, { cause: fatal }));
        break;
      }
      if (failed.length > 0) {
        this.log.debug({ subject: this.subject, refused: failed.length }, 'channel full, retrying');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 100);
      } else backoff = 1;
    }
    this.pumping = false;
  }
}
