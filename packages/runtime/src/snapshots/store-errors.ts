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
