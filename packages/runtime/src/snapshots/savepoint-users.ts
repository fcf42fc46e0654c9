/**
 * Who is using which savepoint inside this process, for the savepoint stores: readers (restores,
 * exports, inspections) are counted, so that a compaction deletes the parts it replaced only once
 * no reader that may still ask for them is left, and a disposal deletes the savepoint only once its
 * readers are done (or after a bound); a compaction and a disposal of the same savepoint never
 * interleave.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** How often `idle` looks again while readers are left. */
const IDLE_POLL_MS = 50;

/**
 * How long a disposal waits for the readers of its savepoint (a restore, an export being
 * downloaded) before it deletes the savepoint anyway: a stalled download must not keep it forever.
 */
export const DISPOSE_READERS_WAIT_MS = 5 * 60_000;

export class SavepointUsers {
  private readonly readers = new Map<string, number>();
  private readonly exclusive = new Map<string, Promise<unknown>>();

  /** Runs `fn` as a reader of savepoint `id`. */
  async read<T>(id: string, fn: () => Promise<T>): Promise<T> {
    this.enter(id);
    try {
      return await fn();
    } finally {
      this.leave(id);
    }
  }

  /** `pieces` read as a reader of `id` from its first piece to its end (or until abandoned). */
  async *readStream<T>(id: string, pieces: () => AsyncIterable<T>): AsyncGenerator<T> {
    this.enter(id);
    try {
      yield* pieces();
    } finally {
      this.leave(id);
    }
  }

  /** Runs `fn` once every earlier exclusive use of `id` (compaction, disposal) has ended. */
  async alone<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const before = this.exclusive.get(id) ?? Promise.resolve();
    const run = before.catch(() => undefined).then(fn);
    const settled = run.catch(() => undefined);
    this.exclusive.set(id, settled);
    void settled.then(() => {
      if (this.exclusive.get(id) === settled) this.exclusive.delete(id);
    });
    return run;
  }

  /** True once no reader of `id` is left; false if some still are after `timeoutMs` or when `signal` aborts. */
  async idle(id: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while ((this.readers.get(id) ?? 0) > 0) {
      if (Date.now() >= deadline || signal?.aborted) return false;
      await sleep(IDLE_POLL_MS);
    }
    return true;
  }

  private enter(id: string): void {
    this.readers.set(id, (this.readers.get(id) ?? 0) + 1);
  }

  private leave(id: string): void {
    const n = (this.readers.get(id) ?? 1) - 1;
    if (n > 0) this.readers.set(id, n);
    else this.readers.delete(id);
  }
}
