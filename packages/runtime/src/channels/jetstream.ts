import { AckPolicy, DeliverPolicy, DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { WeirError } from '@weir/sdk';
import type { Logger } from 'pino';
import { receiversOf, type EdgePlan } from '../plan.js';
import { subjects } from '../subjects.js';
import type { ChannelFactory, DataPlane, Deliver, InputSubscription, OutputChannel } from './channel.js';

export interface JetStreamDataPlaneOptions {
  /** Frames one attempt's stream may hold; beyond it publishes are refused and senders wait. */
  readonly maxFrames?: number;
  readonly maxBytes?: number;
  /** Frames a sender queues per channel before its task waits (backpressure). */
  readonly queueBound?: number;
  /** Frames a receiver fetches ahead. */
  readonly fetchAhead?: number;
}

const isStreamFull = (e: unknown) => /maximum (messages|bytes)|resource|no responders|timeout|503/i.test(String((e as Error)?.message ?? e));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Internal channels over JetStream: one memory stream per job attempt, work-queue retention (a
 * frame is deleted once acknowledged), discard-new limits (a full stream refuses publishes; the
 * sender waits and retries: backpressure, never loss), one durable pull consumer per
 * (edge, receiver subtask) with a wildcard on the sender.
 */
export class JetStreamDataPlane implements DataPlane {
  private jsm: JetStreamManager | undefined;
  private readonly js: JetStreamClient;

  constructor(
    private readonly nc: NatsConnection,
    private readonly cluster: string,
    private readonly log: Logger,
    private readonly options: JetStreamDataPlaneOptions = {},
  ) {
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
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.Memory,
      discard: DiscardPolicy.New,
      max_msgs: this.options.maxFrames ?? 20_000,
      max_bytes: this.options.maxBytes ?? 512 * 1024 * 1024,
      num_replicas: 1,
    });
    for (const edge of edges) {
      if (edge.chained) continue;
      for (let to = 0; to < edge.receivers; to++) {
        await jsm.consumers.add(stream, {
          durable_name: subjects.dataConsumer(edge.id, to),
          filter_subject: subjects.dataInto(this.cluster, jobId, attempt, edge.id, to),
          ack_policy: AckPolicy.Explicit,
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
        new JetStreamOutput(this.js, subjects.data(this.cluster, jobId, attempt, edge.id, from, to), this.options.queueBound ?? 8, this.log),
      input: async (edge, to, deliver) => {
        const consumer = await this.js.consumers.get(stream, subjects.dataConsumer(edge.id, to));
        const messages = await consumer.consume({ max_messages: this.options.fetchAhead ?? 32 });
        const loop = (async () => {
          for await (const m of messages) {
            // subject: weir.<cluster>.data.<job>.<attempt>.<edge>.<from>.<to>
            const tokens = m.subject.split('.');
            await deliver(Number(tokens[tokens.length - 2]), m.data);
            m.ack();
          }
        })();
        return {
          stop: async () => {
            messages.stop();
            await loop.catch(() => undefined);
          },
        } satisfies InputSubscription;
      },
    };
  }
}

/** Publishes one channel's frames in order, one in flight, retrying while the stream is full. */
class JetStreamOutput implements OutputChannel {
  private readonly queue: Uint8Array[] = [];
  private pumping = false;
  private closed = false;
  private error: Error | undefined;
  private waiters: { resolve: () => void; reject: (e: Error) => void; empty: boolean }[] = [];

  constructor(
    private readonly js: JetStreamClient,
    private readonly subject: string,
    private readonly bound: number,
    private readonly log: Logger,
  ) {}

  get backlog(): number {
    return this.queue.length;
  }

  send(frame: Uint8Array): void {
    this.queue.push(frame);
    if (!this.pumping) void this.pump();
  }

  ready(): Promise<void> {
    return this.wait(false);
  }

  flushed(): Promise<void> {
    return this.wait(true);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.notify();
  }

  private wait(empty: boolean): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (empty ? this.queue.length === 0 : this.queue.length < this.bound) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject, empty }));
  }

  private notify(): void {
    const keep: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (this.error) w.reject(this.error);
      else if (this.closed || (w.empty ? this.queue.length === 0 : this.queue.length < this.bound)) w.resolve();
      else keep.push(w);
    }
    this.waiters = keep;
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    let backoff = 1;
    while (this.queue.length > 0 && !this.closed) {
      try {
        await this.js.publish(this.subject, this.queue[0]!, { timeout: 10_000 });
        this.queue.shift();
        backoff = 1;
        this.notify();
      } catch (e) {
        if (this.closed) break;
        if (!isStreamFull(e)) {
          this.error = new WeirError('WEIR_CHANNEL_PUBLISH_FAILED', `publishing to ${this.subject} failed: ${(e as Error).message}`, { cause: e });
          this.notify();
          break;
        }
        this.log.debug({ subject: this.subject, err: (e as Error).message }, 'channel full, retrying');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 100);
      }
    }
    this.pumping = false;
  }
}
