import type { Key } from '@weir/sdk';
import type { OutputChannel } from '../channels/channel.js';
import { encodeBarrier, encodeEnd, encodeRecords } from '../frames.js';
import { keyGroupOf, keyId, subtaskForKeyGroup } from '../keygroups.js';
import type { EdgePlan } from '../plan.js';
import type { Collector } from './operators.js';

/** Largest frame we publish; NATS refuses payloads over max_payload (1 MiB by default). */
const MAX_FRAME_BYTES = 900 * 1024;

/**
 * Partitions one operator's output over the channels of one network edge and batches records
 * into frames: a buffer per channel, flushed when full, on the buffer timeout, and at the end.
 */
export class EdgeWriter implements Collector {
  private buffers: unknown[][];
  private readonly seq: number[];
  private next = 0;
  private ended = false;

  constructor(
    readonly edge: EdgePlan,
    private readonly channels: OutputChannel[],
    private readonly batchSize: number,
    private readonly key: ((r: unknown) => Key) | undefined,
    private readonly receiverMaxParallelism: number,
  ) {
    this.buffers = channels.map(() => []);
    this.seq = channels.map(() => 0);
  }

  collect(record: unknown): void {
    switch (this.edge.partitioning) {
      case 'forward':
        return this.push(0, record);
      case 'rebalance':
        this.next = (this.next + 1) % this.channels.length;
        return this.push(this.next, record);
      case 'hash': {
        const group = keyGroupOf(keyId(this.key!(record)), this.receiverMaxParallelism);
        return this.push(subtaskForKeyGroup(group, this.receiverMaxParallelism, this.channels.length), record);
      }
      case 'broadcast':
        for (let i = 0; i < this.channels.length; i++) this.push(i, record);
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
    this.sendRecords(i, records);
  }

  private sendRecords(i: number, records: unknown[]): void {
    const frame = encodeRecords(this.seq[i]!, records);
    if (frame.length > MAX_FRAME_BYTES && records.length > 1) {
      const half = records.length >> 1;
      this.sendRecords(i, records.slice(0, half));
      this.sendRecords(i, records.slice(half));
      return;
    }
    this.seq[i]!++;
    this.channels[i]!.send(frame);
  }

  flushAll(): void {
    for (let i = 0; i < this.channels.length; i++) this.flush(i);
  }

  /** Waits while any channel's queue is over its bound. */
  async ready(): Promise<void> {
    for (const c of this.channels) await c.ready();
  }

  /** Flush, then send checkpoint barrier `id` on every channel: it follows every record before it. */
  barrier(id: number, timestamp: number, full: boolean): void {
    if (this.ended) return; // after the end, receivers no longer wait for barriers on these channels
    this.flushAll();
    for (let i = 0; i < this.channels.length; i++) this.channels[i]!.send(encodeBarrier(this.seq[i]!++, id, timestamp, full));
  }

  /** Flush and mark the end of this sender's output on every channel. */
  end(drain = false): void {
    this.ended = true;
    this.flushAll();
    for (let i = 0; i < this.channels.length; i++) this.channels[i]!.send(encodeEnd(this.seq[i]!++, drain));
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
