/**
 * Job blobs kept for detached savepoints that still refer to them. A detached savepoint's key
 * groups are made of the job's checkpoint chains; in Redis they are copied into the savepoint only
 * after it completed (SavepointStore.copyReferences), so from its trigger until that copy no blob
 * a discarded checkpoint drops may be deleted: the savepoint may name any blob of the chains its
 * workers captured. Deletions asked for meanwhile wait until every savepoint that was in flight
 * when they were asked has let go. Pure bookkeeping; the caller deletes what it is handed.
 */
export class BlobPins {
  private readonly holders = new Set<string>();
  private deferred: { readonly names: readonly string[]; readonly waitingFor: Set<string> }[] = [];

  /** Savepoints holding pins. */
  get held(): number {
    return this.holders.size;
  }

  /** Blobs deferred, waiting to be deleted. */
  get deferredBlobs(): number {
    return this.deferred.reduce((n, d) => n + d.names.length, 0);
  }

  /** `holder` (a savepoint id) may refer to any blob the job's chains hold from now on. */
  pin(holder: string): void {
    this.holders.add(holder);
  }

  /** What of `names` (blobs no retained checkpoint needs) may be deleted now: all, or none while a savepoint is in flight. */
  delete(names: readonly string[]): readonly string[] {
    if (this.holders.size === 0 || names.length === 0) return names;
    this.deferred.push({ names, waitingFor: new Set(this.holders) });
    return [];
  }

  /** `holder` let go (its copy is made, or it failed): the deferred blobs nothing waits for any more, to delete now. */
  unpin(holder: string): string[] {
    if (!this.holders.delete(holder)) return [];
    const free: string[] = [];
    this.deferred = this.deferred.filter((d) => {
      d.waitingFor.delete(holder);
      if (d.waitingFor.size > 0) return true;
      free.push(...d.names);
      return false;
    });
    return free;
  }
}
