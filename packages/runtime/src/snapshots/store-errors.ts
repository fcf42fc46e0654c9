/**
 * How every snapshot and savepoint store reports that its storage failed: the store's own
 * WeirErrors (missing blob, fenced, not found...) pass as they are; anything else (a file system or
 * Redis error: no permission, disk full, connection lost) means the storage could not do its job.
 */
import { WeirError } from '@weir/sdk';

/**
 * `fn`, with a failure other than a WeirError turned into WEIR_SNAPSHOT_STORE_UNAVAILABLE
 * `<failed()>: <reason>` (the original error as its cause). `failed` is called only then.
 */
export async function unavailableOnError<T>(failed: () => string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof WeirError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new WeirError('WEIR_SNAPSHOT_STORE_UNAVAILABLE', `${failed()}: ${reason}`, { cause: err });
  }
}

/** Largest blob accepted (Redis' own bulk limit is 512 MB; a bigger state should be split). */
export const MAX_BLOB_BYTES = 256 * 1024 * 1024;

/** WEIR_SNAPSHOT_TOO_LARGE for the first blob of `owner` (e.g. "job 1a2b…") over MAX_BLOB_BYTES. */
export function assertBlobSizes(blobs: readonly { readonly name: string; readonly bytes: Uint8Array }[], owner: string): void {
  for (const b of blobs) {
    if (b.bytes.byteLength > MAX_BLOB_BYTES) {
      throw new WeirError('WEIR_SNAPSHOT_TOO_LARGE', `blob '${b.name}' of ${owner} has ${b.bytes.byteLength} bytes; the limit is ${MAX_BLOB_BYTES} (split the state over more key groups)`);
    }
  }
}
