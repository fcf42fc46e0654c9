/**
 * Snapshot store in a directory: the embedded default and the store of tests. Layout per job:
 * `<dir>/<jobId>/attempt`, `blobs/<encodeURIComponent(name)>`, `checkpoints/<id>.json`, `latest`.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { WeirError } from '@weir/sdk';
import { assertToken } from '../subjects.js';
import { forEachLimited, isNotFound, linkAtomic, mapLimited, readOptional, writeAtomic } from './fs-util.js';
import { assertBlobSizes, unavailableOnError } from './store-errors.js';
import { fileSavepointPaths } from './file-savepoint-layout.js';
import { chainedWriteParts } from './savepoint-names.js';
import type { BlobWrite, ChainedBlobWrite, CompletedCheckpoint, SnapshotStore } from './types.js';

const CHECKPOINT_FILE = /^(\d+)\.json$/;

/**
 * {@link SnapshotStore} in a local directory. Every file is written to a temporary file (flushed)
 * and renamed over the target, so a reader or a crash never sees half a file.
 *
 * Fencing checks the `attempt` file before a write, under a per-job lock of this instance: it is
 * atomic within one process only. Two processes (or two instances) on one directory are not fenced
 * against each other; use the Redis store for that.
 */
export class FileSnapshotStore implements SnapshotStore {
  private readonly locks = new Map<string, RwLock>();

  constructor(private readonly dir: string) {}

  async fence(jobId: string, attempt: number): Promise<void> {
    const job = this.jobDir(jobId);
    assertAttempt(attempt);
    await this.exclusive(jobId, 'fence', async () => {
      const stored = await this.storedAttempt(jobId);
      if (stored !== undefined && stored > attempt) throw fenced(jobId, attempt, stored, 'fence');
      await mkdir(job, { recursive: true });
      await writeAtomic(join(job, 'attempt'), String(attempt));
    });
  }

  async writeBlobs(jobId: string, attempt: number, blobs: readonly BlobWrite[]): Promise<number> {
    const dir = join(this.jobDir(jobId), 'blobs');
    assertAttempt(attempt);
    assertBlobSizes(blobs, `job ${jobId}`);
    if (blobs.length === 0) return 0;
    // Shared: blob writes of many subtasks run side by side; a fence waits until they are done.
    await this.shared(jobId, 'write blobs', async () => {
      await this.checkAttempt(jobId, attempt, 'write blobs');
      await mkdir(dir, { recursive: true });
      await forEachLimited(blobs, (b) => writeAtomic(join(dir, encodeURIComponent(b.name)), b.bytes));
    });
    return blobs.reduce((sum, b) => sum + b.bytes.byteLength, 0);
  }

  async writeSavepointBlobs(savepointId: string, attempt: number, blobs: readonly BlobWrite[]): Promise<number> {
    const paths = fileSavepointPaths(this.dir, savepointId);
    assertAttempt(attempt);
    assertBlobSizes(blobs, `savepoint ${savepointId}`);
    if (blobs.length === 0) return 0;
    await unavailableOnError(
      () => `snapshot store directory ${this.dir} failed to write blobs of savepoint ${savepointId}`,
      async () => {
        // Within one process (embedded mode) this check and the coordinator's commit or abandon cannot interleave badly: a
        // blob written after an abandon is removed by it only if it came first, which is why the fence is read per call.
        await this.checkSavepointFence(paths.pending, savepointId, attempt);
        await mkdir(paths.blobs, { recursive: true });
        await forEachLimited(blobs, (b) => writeAtomic(paths.blob(b.name), b.bytes));
      },
    );
    return blobs.reduce((sum, b) => sum + b.bytes.byteLength, 0);
  }

  async writeSavepointChains(jobId: string, savepointId: string, attempt: number, writes: readonly ChainedBlobWrite[]): Promise<number> {
    const paths = fileSavepointPaths(this.dir, savepointId);
    assertAttempt(attempt);
    if (writes.length === 0) return 0;
    const sizes = await unavailableOnError(
      () => `snapshot store directory ${this.dir} failed to write blobs of savepoint ${savepointId}`,
      async () => {
        await this.checkSavepointFence(paths.pending, savepointId, attempt);
        await mkdir(paths.blobs, { recursive: true });
        const jobBlobs = join(this.jobDir(jobId), 'blobs');
        // Hard links: the job's blobs are never changed in place, only written whole or removed.
        return this.shared(jobId, 'link savepoint parts', () =>
          mapLimited(writes, async (w) => {
            const parts = chainedWriteParts(w);
            let size = 0;
            for (const [i, from] of w.chain.entries()) {
              size += await linkAtomic(join(jobBlobs, encodeURIComponent(from)), paths.blob(parts[i]!)).catch((e: unknown) => {
                if (isNotFound(e)) throw new WeirError('WEIR_SNAPSHOT_MISSING', `blob '${from}' of job ${jobId} is missing from the snapshot store (${this.dir}); savepoint blob '${w.name}' cannot be made from it`);
                throw e;
              });
            }
            if (w.tail) {
              await writeAtomic(paths.blob(parts[parts.length - 1]!), w.tail);
              size += w.tail.byteLength;
            }
            return size;
          }),
        );
      },
    );
    return sizes.reduce((a, b) => a + b, 0);
  }

  async readBlobs(jobId: string, names: readonly string[]): Promise<Uint8Array[]> {
    const dir = join(this.jobDir(jobId), 'blobs');
    const values = await this.shared(jobId, 'read blobs', () => mapLimited(names, (n) => readOptional(join(dir, encodeURIComponent(n)))));
    const missing = values.findIndex((v) => v === undefined);
    if (missing >= 0) {
      throw new WeirError('WEIR_SNAPSHOT_MISSING', `blob '${names[missing]}' of job ${jobId} is missing from the snapshot store (${this.dir}); the checkpoint cannot be restored`);
    }
    return values as Buffer[];
  }

  async deleteBlobs(jobId: string, names: readonly string[]): Promise<void> {
    const dir = join(this.jobDir(jobId), 'blobs');
    await this.shared(jobId, 'delete blobs', () => forEachLimited(names, (n) => rm(join(dir, encodeURIComponent(n)), { force: true })));
  }

  async commitCheckpoint(jobId: string, attempt: number, checkpoint: CompletedCheckpoint): Promise<void> {
    const job = this.jobDir(jobId);
    assertAttempt(attempt);
    const id = checkpoint.id;
    await this.exclusive(jobId, 'commit checkpoint', async () => {
      await this.checkAttempt(jobId, attempt, `commit checkpoint ${id}`);
      await mkdir(join(job, 'checkpoints'), { recursive: true });
      // Metadata first: the pointer never names a checkpoint that is not there.
      await writeAtomic(join(job, 'checkpoints', `${id}.json`), JSON.stringify(checkpoint));
      const latest = await this.latestId(jobId);
      if (latest === undefined || latest < id) await writeAtomic(join(job, 'latest'), String(id));
    });
  }

  async removeCheckpoints(jobId: string, ids: readonly number[]): Promise<void> {
    const job = this.jobDir(jobId);
    if (ids.length === 0) return;
    await this.exclusive(jobId, 'remove checkpoints', async () => {
      const latest = await this.latestId(jobId);
      await forEachLimited(ids, (id) => rm(join(job, 'checkpoints', `${id}.json`), { force: true }));
      if (latest === undefined || !ids.includes(latest)) return;
      const left = await this.checkpointIds(jobId);
      if (left.length > 0) await writeAtomic(join(job, 'latest'), String(left[left.length - 1]));
      else await rm(join(job, 'latest'), { force: true });
    });
  }

  async latestCheckpoint(jobId: string): Promise<CompletedCheckpoint | undefined> {
    this.jobDir(jobId);
    return this.shared(jobId, 'read latest checkpoint', async () => {
      const latest = await this.latestId(jobId);
      return latest === undefined ? undefined : this.readCheckpoint(jobId, latest);
    });
  }

  async getCheckpoint(jobId: string, id: number): Promise<CompletedCheckpoint | undefined> {
    this.jobDir(jobId);
    return this.shared(jobId, 'read checkpoint', () => this.readCheckpoint(jobId, id));
  }

  async listCheckpoints(jobId: string): Promise<number[]> {
    this.jobDir(jobId);
    return this.shared(jobId, 'list checkpoints', () => this.checkpointIds(jobId));
  }

  async deleteJob(jobId: string): Promise<void> {
    const job = this.jobDir(jobId);
    await this.exclusive(jobId, 'delete job', () => rm(job, { recursive: true, force: true }));
  }

  async close(): Promise<void> {}

  /** WEIR_SNAPSHOT_FENCED unless savepoint `savepointId` is being taken by `attempt`. */
  private async checkSavepointFence(pending: string, savepointId: string, attempt: number): Promise<void> {
    const stored = await readOptional(pending);
    if (stored === undefined || Number(stored.toString('utf8')) !== attempt) {
      throw new WeirError('WEIR_SNAPSHOT_FENCED', `attempt ${attempt} may not write blobs of savepoint ${savepointId}: it is no longer being taken by that attempt (completed, abandoned, or never prepared)`);
    }
  }

  private jobDir(jobId: string): string {
    return join(this.dir, assertToken('job id', jobId));
  }

  private async storedAttempt(jobId: string): Promise<number | undefined> {
    const text = await readOptional(join(this.jobDir(jobId), 'attempt'));
    return text === undefined ? undefined : Number(text.toString('utf8'));
  }

  private async checkAttempt(jobId: string, attempt: number, what: string): Promise<void> {
    const stored = await this.storedAttempt(jobId);
    if (stored !== attempt) throw fenced(jobId, attempt, stored, what);
  }

  private async latestId(jobId: string): Promise<number | undefined> {
    const text = await readOptional(join(this.jobDir(jobId), 'latest'));
    return text === undefined ? undefined : Number(text.toString('utf8'));
  }

  private async readCheckpoint(jobId: string, id: number): Promise<CompletedCheckpoint | undefined> {
    const json = await readOptional(join(this.jobDir(jobId), 'checkpoints', `${id}.json`));
    return json === undefined ? undefined : (JSON.parse(json.toString('utf8')) as CompletedCheckpoint);
  }

  private async checkpointIds(jobId: string): Promise<number[]> {
    let files: string[];
    try {
      files = await readdir(join(this.jobDir(jobId), 'checkpoints'));
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    // Temporary files of an interrupted write do not match the pattern.
    return files.flatMap((f) => CHECKPOINT_FILE.exec(f)?.[1] ?? []).map(Number).sort((a, b) => a - b);
  }

  private shared<T>(jobId: string, op: string, fn: () => Promise<T>): Promise<T> {
    return this.lock(jobId).run(false, () => this.io(op, fn));
  }

  private exclusive<T>(jobId: string, op: string, fn: () => Promise<T>): Promise<T> {
    return this.lock(jobId).run(true, () => this.io(op, fn));
  }

  private lock(jobId: string): RwLock {
    let lock = this.locks.get(jobId);
    if (!lock) this.locks.set(jobId, (lock = new RwLock()));
    return lock;
  }

  /** File system errors (no permission, disk full...) mean the store cannot do its job. */
  private io<T>(op: string, fn: () => Promise<T>): Promise<T> {
    return unavailableOnError(() => `snapshot store directory ${this.dir} failed ${op}`, fn);
  }
}

function assertAttempt(attempt: number): void {
  if (!Number.isSafeInteger(attempt) || attempt < 0) throw new RangeError(`attempt must be a non-negative integer, got ${attempt}`);
}

function fenced(jobId: string, attempt: number, stored: number | undefined, what: string): WeirError {
  const current = stored === undefined ? 'no attempt (fence was never called)' : `attempt ${stored}`;
  return new WeirError('WEIR_SNAPSHOT_FENCED', `attempt ${attempt} of job ${jobId} may not ${what}: the job's current attempt is ${current}`);
}

/**
 * Readers-writer lock: shared holders (blob writes, reads) run together; an exclusive holder
 * (fence, commit, removal) runs alone. First come, first served, so a fence is not starved.
 */
class RwLock {
  /** > 0: that many shared holders; -1: one exclusive holder. */
  private active = 0;
  private readonly waiting: { exclusive: boolean; start: () => void }[] = [];

  async run<T>(exclusive: boolean, fn: () => Promise<T>): Promise<T> {
    if (this.waiting.length > 0 || !this.free(exclusive)) await new Promise<void>((start) => this.waiting.push({ exclusive, start }));
    else this.take(exclusive);
    try {
      return await fn();
    } finally {
      this.active = this.active === -1 ? 0 : this.active - 1;
      this.wake();
    }
  }

  private free(exclusive: boolean): boolean {
    return exclusive ? this.active === 0 : this.active >= 0;
  }

  private take(exclusive: boolean): void {
    this.active = exclusive ? -1 : this.active + 1;
  }

  private wake(): void {
    while (this.waiting.length > 0 && this.free(this.waiting[0].exclusive)) {
      const next = this.waiting.shift()!;
      this.take(next.exclusive);
      next.start();
    }
  }
}
