/**
 * Background compaction of savepoints (SavepointStore.compact). A savepoint of a running job is
 * recorded as soon as its parts are written (the job's chains plus a tail per key group, up to
 * ~3× the live state) and folded into one full base per key group afterwards: one savepoint at a
 * time, and only once no savepoint was offered for the quiet delay, so that a burst of savepoints
 * is not slowed by the folding of the first ones. The savepoint restores to the same state
 * throughout; a compaction that fails leaves it whole, and the next coordinator start tries again.
 */
import { compactionPlan, type SavepointMetadata, type SavepointStore } from '@weir/runtime';
import type { Logger } from 'pino';

/** Default quiet delay: after the last savepoint completed, before compactions start. */
export const DEFAULT_COMPACTION_DELAY_MS = 5_000;

export class SavepointCompactor {
  private readonly queue = new Set<string>();
  private quietUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Stops a compaction in progress at its next key groups (the savepoint stays whole). */
  private readonly abort = new AbortController();
  private readonly waiters: (() => void)[] = [];

  constructor(
    private readonly store: SavepointStore,
    private readonly log: Logger,
    private readonly delayMs = DEFAULT_COMPACTION_DELAY_MS,
  ) {}

  /** Compact the savepoint later if it has key groups of several parts. */
  offer(metadata: SavepointMetadata): void {
    if (this.stopped || compactionPlan(metadata).length === 0) return;
    this.queue.add(metadata.id);
    this.quietUntil = Date.now() + this.delayMs;
    this.arm();
  }

  /** Offer every stored savepoint: a coordinator that stopped (or crashed) may have left some unfolded. */
  async sweep(): Promise<void> {
    try {
      for (const m of await this.store.list()) this.offer(m);
    } catch (err) {
      this.log.warn({ err }, 'savepoints to compact could not be listed; they are compacted when next offered');
    }
  }

  /** Resolves once nothing is queued or running (or the compactor stopped). */
  idle(): Promise<void> {
    if (this.stopped || (this.queue.size === 0 && !this.running)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    clearTimeout(this.timer);
    await this.running;
    this.wake();
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.drain(), Math.max(0, this.quietUntil - Date.now()));
    this.timer.unref();
  }

  private drain(): void {
    if (this.running || this.stopped) return;
    this.running = this.work().finally(() => {
      this.running = undefined;
      if (this.queue.size === 0 || this.stopped) this.wake();
    });
  }

  private async work(): Promise<void> {
    for (const id of this.queue) {
      if (this.stopped) return;
      // A savepoint offered meanwhile restarts the quiet delay: wait for it before the next one.
      if (Date.now() < this.quietUntil) return this.arm();
      this.queue.delete(id);
      const started = Date.now();
      try {
        const done = await this.store.compact(id, this.abort.signal);
        if (done) {
          const fields = { savepoint: id, keyGroups: done.keyGroups, bytesBefore: done.bytesBefore, bytesAfter: done.bytesAfter, ms: Date.now() - started };
          if (done.partsDeleted) this.log.info(fields, 'savepoint compacted');
          else this.log.warn(fields, 'savepoint compacted; its old parts were still being read and stay until it is disposed');
        }
      } catch (err) {
        this.log.warn({ err, savepoint: id }, 'savepoint compaction failed; the savepoint still reads the same state: a fold left unfinished is done at the next coordinator start, and parts left behind go when it is disposed');
      }
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
