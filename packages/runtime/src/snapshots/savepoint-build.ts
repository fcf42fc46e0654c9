/**
 * What both savepoint stores (file-savepoint-store.ts, redis-savepoint-store.ts) do the same way
 * whatever their storage: merging the chains of a create, building the export file, and the errors
 * they report in the same words.
 */
import { WeirError } from '@weir/sdk';
import { mergeChain } from './chain-merge.js';
import { ExportWriter } from './export-format.js';
import { savepointBlobNames, type SavepointBlobSource } from './savepoint-names.js';
import type { SavepointJobInfo, SavepointMetadata, SavepointStore } from './savepoint-types.js';
import type { BlobWrite, CompletedCheckpoint, SnapshotStore } from './types.js';

/** Chains read and merged at once: bounds the memory a create holds. */
const MERGE_CHUNK = 64;

/** RangeError unless `checkpoint` is of the job `info` describes. */
export function assertSameJob(checkpoint: CompletedCheckpoint, info: SavepointJobInfo): void {
  if (checkpoint.jobId !== info.jobId) throw new RangeError(`checkpoint ${checkpoint.id} is of job ${checkpoint.jobId}, the job info of ${info.jobId}`);
}

/**
 * Folds every source of more than one blob (a base and deltas) into one full base: reads the chains
 * of MERGE_CHUNK sources at a time from `snapshots` and hands `write` their merged blobs, each merged
 * only when `write` iterates to it. Sources of one blob are left to the caller (they are copied).
 */
export async function mergeChains(
  snapshots: Pick<SnapshotStore, 'readBlobs'>,
  jobId: string,
  sources: readonly SavepointBlobSource[],
  write: (merged: Iterable<BlobWrite>) => Promise<void>,
): Promise<void> {
  const chains = sources.filter((s) => s.chain.length > 1);
  for (let i = 0; i < chains.length; i += MERGE_CHUNK) {
    const part = chains.slice(i, i + MERGE_CHUNK);
    const read = await snapshots.readBlobs(jobId, part.flatMap((s) => s.chain));
    await write(mergedBlobs(part, read));
  }
}

/** The merged blob of every source of `part`, whose chains `read` holds one after the other. */
function* mergedBlobs(part: readonly SavepointBlobSource[], read: readonly Uint8Array[]): Generator<BlobWrite> {
  let at = 0;
  for (const s of part) yield { name: s.name, bytes: mergeChain(read.slice(at, (at += s.chain.length))) };
}

/** Blobs read per step of a streamed export: enough to keep reads efficient, little memory. */
const EXPORT_STREAM_BLOBS = 16;

/** The export file (export-format.ts) of the savepoint `metadata` describes, piece by piece (only a few blobs in memory at a time); `readBlobs` reads its blobs. */
export async function* exportSavepointStream(metadata: SavepointMetadata, readBlobs: (names: readonly string[]) => Promise<Uint8Array[]>): AsyncGenerator<Uint8Array> {
  const writer = new ExportWriter();
  yield* writer.start(metadata);
  const names = savepointBlobNames(metadata);
  for (let i = 0; i < names.length; i += EXPORT_STREAM_BLOBS) {
    const batch = names.slice(i, i + EXPORT_STREAM_BLOBS);
    const bytes = await readBlobs(batch);
    for (let j = 0; j < batch.length; j++) yield* writer.blob({ name: batch[j]!, bytes: bytes[j]! });
  }
  yield* writer.end();
}

/** The metadata of savepoint `id` in `store`, or WEIR_SAVEPOINT_NOT_FOUND. */
export async function existingSavepoint(store: Pick<SavepointStore, 'get'>, id: string): Promise<SavepointMetadata> {
  const metadata = await store.get(id);
  if (!metadata) throw new WeirError('WEIR_SAVEPOINT_NOT_FOUND', `no savepoint '${id}'; list them with GET /savepoints or 'weir savepoints'`);
  return metadata;
}

/** WEIR_SAVEPOINT_EXISTS: an import of an id the store already has. */
export function savepointExists(id: string): WeirError {
  return new WeirError('WEIR_SAVEPOINT_EXISTS', `savepoint '${id}' already exists here; dispose of it first to import this file again`);
}
