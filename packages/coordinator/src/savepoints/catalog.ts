/**
 * The savepoints a cluster keeps, as the REST API shows them: look-ups with typed errors, the
 * list with ages, asynchronous disposal, export and import.
 */
import { inspectSavepoint, type InspectOptions, type SavepointInspection, type SavepointMetadata, type SavepointStore } from '@weir/runtime';
import { validateGraph, WeirError, type JobGraphDescription } from '@weir/sdk';
import { checkSavepointCompatibility, type SavepointMapping } from './compatibility.js';
import type { SavepointCompactor } from './compactor.js';
import type { OperationView, Operations } from './operations.js';

/** A savepoint as lists and operations report it. */
export function savepointSummary(meta: SavepointMetadata, location: string) {
  return { id: meta.id, location, jobName: meta.jobName, jobVersion: meta.jobVersion, jobId: meta.jobId, checkpointId: meta.checkpointId, reason: meta.reason, createdAt: meta.createdAt, sizeBytes: meta.sizeBytes };
}

export class SavepointCatalog {
  constructor(
    readonly store: SavepointStore,
    private readonly operations: Operations,
    private readonly now: () => number,
    /** Folds the parts of savepoints taken of running jobs, in the background. */
    readonly compactor: SavepointCompactor,
  ) {}

  /** The metadata; WEIR_SAVEPOINT_NOT_FOUND if there is no such savepoint. */
  async get(id: string): Promise<SavepointMetadata> {
    const meta = await this.store.get(id);
    if (!meta) throw new WeirError('WEIR_SAVEPOINT_NOT_FOUND', `no savepoint '${id}'; list them with GET /savepoints or 'weir savepoints'`);
    return meta;
  }

  /**
   * Whether `description` could start from savepoint `id`, without starting it (`weir run
   * --dry-run`): check an upgrade against a savepoint before stopping the job that runs now.
   */
  async check(id: string, description: JobGraphDescription, allowNonRestoredState: boolean): Promise<SavepointMapping & { savepoint: ReturnType<typeof savepointSummary> }> {
    validateGraph(description);
    const meta = await this.get(id);
    return { savepoint: this.summary(meta), ...checkSavepointCompatibility(meta, description, allowNonRestoredState) };
  }

  /**
   * Operators, key groups, sizes and sample keys/values, reading only blobs of the operator asked
   * for, a few key groups at a time, and only until the sample is full (unless `opts.count`).
   */
  async inspect(id: string, opts: InspectOptions): Promise<SavepointInspection> {
    for (let attempt = 1; ; attempt++) {
      const meta = await this.get(id);
      try {
        return await inspectSavepoint(meta, (names) => this.store.readBlobs(id, names), opts);
      } catch (err) {
        // Compacted between the metadata and the read (its old parts are gone): once more, with the new metadata.
        const compactedMeanwhile = (err as { code?: unknown }).code === 'WEIR_SNAPSHOT_MISSING' && (await this.store.get(id))?.compactedAt !== meta.compactedAt;
        if (attempt >= 2 || !compactedMeanwhile) throw err;
      }
    }
  }

  summary(meta: SavepointMetadata) {
    return savepointSummary(meta, this.store.location(meta.id));
  }

  /** Savepoints, newest first, with their age. */
  async list(jobName?: string) {
    const now = this.now();
    return (await this.store.list(jobName === undefined ? {} : { jobName })).map((m) => ({ ...this.summary(m), ageMs: now - m.createdAt, importedAt: m.importedAt ?? null, compactedAt: m.compactedAt ?? null }));
  }

  dispose(id: string): OperationView {
    return this.operations.start('dispose', null, async () => {
      await this.store.dispose(id);
      return { savepoint: id };
    });
  }

  /** The export file, streamed (WEIR_SAVEPOINT_NOT_FOUND before any byte). */
  async exportStream(id: string): Promise<AsyncIterable<Uint8Array>> {
    await this.get(id);
    return this.store.exportStream(id);
  }

  async importFile(bytes: Uint8Array) {
    const meta = await this.store.importFile(bytes);
    this.compactor.offer(meta); // exported before it was compacted
    return this.summary(meta);
  }
}
