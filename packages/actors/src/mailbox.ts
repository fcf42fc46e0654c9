/**
 * A FIFO ring buffer with a soft capacity. `full` reports when the capacity is reached;
 * `push` still accepts items past it (growing the buffer), because a 'backpressure' mailbox
 * must never drop a tell — the caller decides whether to reject, wait or push.
 */
export class Mailbox<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`mailbox capacity must be a positive integer, got ${capacity}`);
    // Start small: most actors hold a handful of messages, and the buffer doubles on demand.
    this.items = new Array(Math.min(capacity, 16));
  }

  get size(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  push(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) % this.items.length] = item;
    this.count++;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined; // let the message be collected
    this.head = (this.head + 1) % this.items.length;
    this.count--;
    return item;
  }

  /** Remove and return everything, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    while (this.count > 0) out.push(this.shift() as T);
    return out;
  }

  private grow(): void {
    const grown = new Array<T | undefined>(Math.max(4, this.items.length * 2));
    for (let i = 0; i < this.count; i++) grown[i] = this.items[(this.head + i) % this.items.length];
    this.items = grown;
    this.head = 0;
  }
}
