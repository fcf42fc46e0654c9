import type { Key } from '@weir/sdk';
import type { OutputChannel } from '../channels/channel.js';
import { FrameKind } from '../frames.js';
import { keyGroupOf, keyId, subtaskForKeyGroup } from '../keygroups.js';
import type { EdgePlan } from '../plan.js';
import type { Barrier } from './barrier-aligner.js';
import type { Collector } from './operators.js';

/**
 * Partitions one operator's output over the channels of one network edge and batches records
 * into frames: a buffer per channel, flushed when full, on the buffer timeout, and at the end.
 * Encoding is the channel's business: a channel inside the process passes the frame as it is.
 */
export class EdgeWriter implements Collector {
  private buffers: unknown[][];
  private next = 0;
  private ended = false;
  /** Routes one record to its channel buffer; chosen once per edge, not switched on per record. */
  readonly collect: (record: unknown) => void;

  constructor(
    readonly edge: EdgePlan,
    private readonly channels: OutputChannel[],
    private readonly batchSize: number,
    private readonly key: ((r: unknown) => Key) | undefined,
    private readonly receiverMaxParallelism: number,
  ) {
    this.buffers = channels.map(() => []);
    this.collect = this.router();
  }

  private router(): (record: unknown) => void {
    const n = this.channels.length;
    const partitioning = this.edge.partitioning;
    switch (partitioning) {
      case 'forward':
        return (r) => this.push(0, r);
      case 'rebalance':
        return (r) => {
          this.next = (this.next + 1) % n;
          this.push(this.next, r);
        };
      case 'hash': {
        const key = this.key!;
        const maxParallelism = this.receiverMaxParallelism;
        // key group -> channel, once per edge instead of a division per record
        const channelOf = Int32Array.from({ length: maxParallelism }, (_, g) => subtaskForKeyGroup(g, maxParallelism, n));
        return (r) => this.push(channelOf[keyGroupOf(keyId(key(r)), maxParallelism)]!, r);
      }
      case 'broadcast':
        return (r) => {
          for (let i = 0; i < n; i++) this.push(i, r);
        };
      default:
        throw new Error(`unknown partitioning ${String(partitioning satisfies never)}`);
    }
  }

  private push(i: number, record: unknown): void {
    const b = this.buffers[i]!;
    b.push(record);
    if (b.length >= this.batchSize) this.flush(i);
  }

  private flush(i: number): void {
    const records = this.buffers[i]!;
    if (records.length === 0) return;
    this.buffers[i] = [];
    this.channels[i]!.send({ kind: FrameKind.Records, records });
  }

  flushAll(): void {
    for (let i = 0; i < this.channels.length; i++) this.flush(i);
  }

  /** Waits while any channel's queue is over its bound. */
  async ready(): Promise<void> {
    for (const c of this.channels) await c.ready();
  }

  /** Flush, then send the checkpoint barrier on every channel: it follows every record before it. */
  barrier(b: Barrier): void {
    if (this.ended) return; // after the end, receivers no longer wait for barriers on these channels
    this.flushAll();
    for (const c of this.channels) c.send({ kind: FrameKind.Barrier, barrier: b });
  }

  /** Flush and mark the end of this sender's output on every channel. */
  end(drain = false): void {
    this.ended = true;
    this.flushAll();
    for (const c of this.channels) c.send(drain ? { kind: FrameKind.End, drain: true } : { kind: FrameKind.End });
  }

  async flushed(): Promise<void> {
    for (const c of this.channels) await c.flushed();
  }

  get backlog(): number {
    let n = 0;
    for (const c of this.channels) n += c.backlog;
    return n;
  }

  async close(): Promise<void> {
    for (const c of this.channels) await c.close();
  }
}
