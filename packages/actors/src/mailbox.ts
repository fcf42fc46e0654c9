/** A bounded FIFO ring buffer; grows past its capacity only when told to (backpressure mode). */
export class Mailbox<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.items = new Array(Math.max(4, capacity));
  }

  get size(): number {
    return this.count;
  }
  get full(): boolean {
    return this.count >= this.capacity;
  }

  push(item: T): void {
    if (this.count === this.items.length) {
      const grown = new Array<T | undefined>(this.items.length * 2);
      for (let i = 0; i < this.count; i++) grown[i] = this.items[(this.head + i) % this.items.length];
      this.items = grown;
      this.head = 0;
    }
    this.items[(this.head + this.count) % this.items.length] = item;
    this.count++;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.count--;
    return item;
  }

  drain(): T[] {
    const out: T[] = [];
    for (let x = this.shift(); x !== undefined; x = this.shift()) out.push(x);
    return out;
  }
}
