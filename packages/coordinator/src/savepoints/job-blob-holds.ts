import { crashPoint, delayPoint, failPoint, type SavepointStore } from '@weir/runtime';
import { WeirError } from '@weir/sdk';
import type { Logger } from 'pino';
import { BlobPins } from '../checkpoint/index.js';

/** Detached savepoints this process has come to copy in, for the `before-savepoint-copy` crash point. */
let savepointsCopied = 0;

/**
 * Tries of a savepoint's copy of the job blobs it refers to that the job's end waits for, and the
 * pause after a failed one (then doubled, up to the maximum, for the tries in the background).
 */
const COPY_TRIES = 3;
const COPY_RETRY_MS = 500;
const COPY_RETRY_MAX_MS = 30_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export interface JobBlobHoldsSetup {
  readonly savepoints: SavepointStore;
  readonly log: Logger;
  /** Delete these blobs of the job (in the job's command queue). */
  deleteBlobs(names: readonly string[]): void;
  /** Run `fn` in the job's command queue. */
  enqueue(fn: () => Promise<void>): void;
}

/**
 * One job's blobs held for its detached savepoints (I/O around BlobPins): a savepoint holds them
 * from before its trigger until it copied in the blobs it refers to (SavepointStore.copyReferences)
 * or failed; what the job's checkpoints drop meanwhile is deleted afterwards, and so is the data of
 * a job that ended meanwhile.
 */
export class JobBlobHolds {
  private readonly pins = new BlobPins();
  /** What waits for every hold to end (whenReleased). */
  private readonly released: (() => Promise<void>)[] = [];
  /** The coordinator stopped (close). */
  private closed = false;

  constructor(private readonly s: JobBlobHoldsSetup) {}

  /** Savepoint `id` may refer to any blob the job's chains hold from now on. */
  hold(id: string): void {
    this.pins.pin(id);
  }

  /** What of `names` (blobs no retained checkpoint needs) may be deleted now; the rest waits for the holds. */
  deletable(names: readonly string[]): readonly string[] {
    return this.pins.delete(names);
  }

  /** Savepoint `id` no longer refers to the job's blobs: what it held back is deleted. */
  release(id: string): void {
    const free = this.pins.unpin(id);
    if (free.length > 0) this.s.deleteBlobs(free);
    if (this.pins.held > 0) return;
    for (const fn of this.released.splice(0)) this.s.enqueue(fn);
  }

  /**
   * Runs `fn` (the deletion of an ended job's data) once no savepoint holds the job's blobs: at once
   * (resolves when it is done), or when the last hold ends (resolves at once).
   */
  async whenReleased(fn: () => Promise<void>): Promise<void> {
    if (this.pins.held === 0) return fn();
    this.s.log.warn({ savepoints: this.pins.held }, "the job's checkpoint data is kept until the savepoints that refer to it have copied it in");
    this.released.push(fn);
  }

  /** The coordinator stops: copies retried in the background end (the next coordinator makes them as it starts). */
  close(): void {
    this.closed = true;
  }

  /**
   * After COMPLETED (or a record step of unknown outcome): copy the job blobs savepoint `id` refers
   * to into it, then release them. The first tries run here (the job's end waits for them); if the
   * store is unreachable the copy goes on trying in the background, with growing pauses, and the
   * blobs stay held until it succeeds. Any other failure (a blob gone, references that do not
   * read) cannot mend: then it releases them at once.
   */
  async copyIn(id: string): Promise<void> {
    crashPoint('before-savepoint-copy', ++savepointsCopied);
    await delayPoint('slow-savepoint-copy');
    const started = Date.now();
    /** True once settled: copied, or failed for good; false if the store was unavailable. */
    const attempt = async (n: number): Promise<boolean> => {
      try {
        if (failPoint('fail-savepoint-copy')) throw new WeirError('WEIR_SNAPSHOT_STORE_UNAVAILABLE', 'the savepoint copy failed here (WEIR_FAULT)');
        await this.s.savepoints.copyReferences(id);
        this.s.log.debug({ savepoint: id, ms: Date.now() - started, tries: n }, 'savepoint copied in the blobs it referred to');
        this.release(id);
        return true;
      } catch (e) {
        if (e instanceof WeirError && e.code === 'WEIR_SNAPSHOT_STORE_UNAVAILABLE') {
          this.s.log.warn({ err: e, savepoint: id, try: n }, 'savepoint could not copy in the job blobs it refers to; trying again (they are kept until then)');
          return false;
        }
        // No try would do better, and holding the blobs would stop the job's cleanup.
        this.s.log.error({ err: e, savepoint: id }, 'savepoint cannot be made whole: the job blobs it refers to cannot be copied in');
        this.release(id);
        return true;
      }
    };
    for (let n = 1; n <= COPY_TRIES; n++) {
      if (await attempt(n)) return;
      if (n < COPY_TRIES) await sleep(COPY_RETRY_MS * n);
    }
    // Not awaited: the job's end must not wait for a store that is down; it deletes the job's data
    // once this releases. It ends with the coordinator, leaving the copy to the next one.
    void (async () => {
      for (let n = COPY_TRIES + 1; !this.closed; n++) {
        await sleep(Math.min(COPY_RETRY_MAX_MS, COPY_RETRY_MS * 2 ** (n - COPY_TRIES)));
        if (this.closed || (await attempt(n))) return;
      }
    })();
  }
}
