/**
 * The senders waiting on one output channel's queue: for room under its bound (`ready()`) or for
 * it to be empty (`flushed()`). Closing the channel releases them all; a failed channel rejects
 * them with its error.
 */
export class SendWaiters {
  private waiters: { resolve: () => void; reject: (e: Error) => void; empty: boolean }[] = [];
  private closed = false;
  private error: Error | undefined;

  constructor(
    private readonly queued: () => number,
    private readonly bound: number,
  ) {}

  wait(empty: boolean): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (this.satisfied(empty)) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject, empty }));
  }

  /** The queue changed: release the waiters it now satisfies. */
  notify(): void {
    if (this.waiters.length === 0) return;
    const keep: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (this.error) w.reject(this.error);
      else if (this.satisfied(w.empty)) w.resolve();
      else keep.push(w);
    }
    this.waiters = keep;
  }

  close(): void {
    this.closed = true;
    this.notify();
  }

  fail(error: Error): void {
    this.error = error;
    this.notify();
  }

  private satisfied(empty: boolean): boolean {
    const n = this.queued();
    return this.closed || (empty ? n === 0 : n < this.bound);
  }
}

/**
 * The queue of one output channel and its senders' waits: `ready()` while it is under its bound,
 * `flushed()` once it is empty (every frame handed over to the transport or the receiver).
 */
export abstract class QueuedOutput<T> {
  protected readonly queue: T[] = [];
  protected readonly waiters: SendWaiters;

  constructor(bound: number) {
    this.waiters = new SendWaiters(() => this.queue.length, bound);
  }

  /** Frames queued and not yet handed over. */
  get backlog(): number {
    return this.queue.length;
  }

  ready(): Promise<void> {
    return this.waiters.wait(false);
  }

  flushed(): Promise<void> {
    return this.waiters.wait(true);
  }
}
