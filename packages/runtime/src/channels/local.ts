import type { Frame } from '../frames.js';
import { sendersOf, type EdgePlan } from '../plan.js';
import type { ChannelFactory, Deliver, InputSubscription, OutputChannel } from './channel.js';
import { QueuedOutput } from './send-waiters.js';

/** Frames a local channel queues before its sender waits (the receiver's mailbox holds more). */
const QUEUE_BOUND = 16;

/**
 * A channel whose two subtasks run in the same process (Flink's local input channel): the frame
 * object goes from the sender's queue into the receiver's mailbox, with no encoding, broker or
 * acknowledgement. Records are handed over by reference, as between chained operators.
 * Frames wait here until the receiver subscribes, so either end may start first.
 */
export class LocalChannel extends QueuedOutput<Frame> implements OutputChannel {
  private deliver: Deliver | undefined;
  private pumping = false;
  private closed = false;

  constructor(
    private readonly from: number,
    bound = QUEUE_BOUND,
  ) {
    super(bound);
  }

  send(frame: Frame): void {
    if (this.closed) return;
    this.queue.push(frame);
    void this.pump();
  }

  /** Either end went away: drop what is queued and release every waiting sender. */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    this.deliver = undefined;
    this.waiters.close();
  }

  /** The receiver's end: frames go to `deliver`, in order, one at a time. */
  attach(deliver: Deliver): void {
    this.deliver = deliver;
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping || this.deliver === undefined) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0 && this.deliver !== undefined) {
        const frame = this.queue.shift()!;
        this.waiters.notify();
        // The receiver's mailbox applies backpressure: the promise resolves once the frame is in it.
        await this.deliver(this.from, frame);
      }
    } finally {
      this.pumping = false;
    }
  }
}

/** The local channels of one job attempt in one process, by (edge, sender, receiver). */
export class LocalChannels {
  private readonly channels = new Map<string, LocalChannel>();

  /** `bound`: frames each channel queues before its sender waits. */
  constructor(private readonly bound = QUEUE_BOUND) {}

  channel(edge: number, from: number, to: number): LocalChannel {
    const key = `${edge}/${from}/${to}`;
    let c = this.channels.get(key);
    if (!c) this.channels.set(key, (c = new LocalChannel(from, this.bound)));
    return c;
  }

  /** Subscribe receiver `to` of `edge` to its local senders `from`. */
  input(edge: number, to: number, from: readonly number[], deliver: Deliver): InputSubscription {
    const mine = from.map((f) => this.channel(edge, f, to));
    for (const c of mine) c.attach(deliver);
    return {
      stop: async () => {
        for (const c of mine) await c.close();
      },
    };
  }

  /** Close every channel (the attempt is over). */
  async close(): Promise<void> {
    for (const c of this.channels.values()) await c.close();
    this.channels.clear();
  }
}

/**
 * Channels where `isLocal(edge, from, to)` go through `local` (both subtasks are in this process);
 * every other channel goes through `remote`. A receiver with local and remote senders reads both.
 */
export function withLocalChannels(remote: ChannelFactory, isLocal: (edge: EdgePlan, from: number, to: number) => boolean, local = new LocalChannels()): ChannelFactory {
  return {
    output: (edge, from, to) => (isLocal(edge, from, to) ? local.channel(edge.id, from, to) : remote.output(edge, from, to)),
    input: async (edge, to, deliver, onError) => {
      const senders = sendersOf(edge, to);
      const near = senders.filter((f) => isLocal(edge, f, to));
      const subscriptions = [local.input(edge.id, to, near, deliver)];
      if (near.length < senders.length) subscriptions.push(await remote.input(edge, to, deliver, onError));
      return {
        stop: async () => {
          await Promise.all(subscriptions.map((s) => s.stop()));
        },
      };
    },
  };
}
