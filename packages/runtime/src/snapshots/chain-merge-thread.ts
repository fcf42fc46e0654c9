/**
 * mergeChain on a thread of its own: folding a large key group is seconds of CPU, and the
 * coordinator that compacts savepoints must go on answering checkpoints, heartbeats and REST
 * meanwhile. One thread, started on first use, not keeping the process alive.
 */
import { Worker } from 'node:worker_threads';
import { WeirError } from '@weir/sdk';

type Reply = { id: number; bytes?: Uint8Array; error?: { code?: string; message: string } };

export class ChainMergeThread {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();

  /** mergeChain(blobs) on the thread; the same errors (WEIR_SNAPSHOT_CORRUPT with its message). */
  merge(blobs: readonly Uint8Array[]): Promise<Uint8Array> {
    const worker = this.start();
    const id = this.nextId++;
    // Copies, transferred: a blob read from Redis may be a view of a larger shared buffer.
    const copies = blobs.map((b) => new Uint8Array(b));
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref(); // alive while a merge is in flight
      worker.postMessage({ id, blobs: copies }, copies.map((c) => c.buffer as ArrayBuffer));
    });
  }

  /** Stops the thread; merges in flight fail. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
    this.failAll(new Error('the chain merge thread was closed'));
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./chain-merge-worker.js', import.meta.url));
    w.unref();
    w.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (this.pending.size === 0) w.unref();
      if (r.error) p.reject(r.error.code ? new WeirError(r.error.code, r.error.message) : new Error(r.error.message));
      else p.resolve(r.bytes!);
    });
    w.on('error', (err) => {
      if (this.worker === w) this.worker = undefined;
      this.failAll(err);
    });
    w.on('exit', () => {
      if (this.worker === w) this.worker = undefined;
      this.failAll(new Error('the chain merge thread exited'));
    });
    this.worker = w;
    return w;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
