/**
 * Folding a key group's chain (a full base, then deltas) into one full base, in the blob format of
 * state/snapshot-strategy.ts (state/keyed-blob.ts).
 */
import { Packr } from 'msgpackr';
import { applyKeyedDocs, flatRows, keyedBlobDocs, STATE_BLOB_FORMAT } from '../state/keyed-blob.js';

/** The settings snapshot-strategy.ts packs with: Map, Set and typed array values survive. */
const packr = new Packr({ moreTypes: true });

/**
 * One full base blob with the state `blobs` (base first, then deltas in order) describe, as a
 * restore would rebuild it: a delta's row replaces the key's row, a `null` row removes the key, a
 * later base starts over. A chain of one blob is returned as is (it already holds the full state).
 * WEIR_SNAPSHOT_CORRUPT if a blob has another format version or the chain does not start with a base.
 */
export function mergeChain(blobs: readonly Uint8Array[]): Uint8Array {
  if (blobs.length === 0) throw new RangeError('mergeChain needs at least one blob');
  if (blobs.length === 1) return blobs[0];
  const rows = new Map<string, unknown>();
  blobs.forEach((bytes, i) => applyKeyedDocs(keyedBlobDocs(bytes, `blob ${i} of a key group chain`, i === 0), rows));
  return packr.pack({ v: STATE_BLOB_FORMAT, base: true, flat: flatRows(rows) });
}

/**
 * A key-group blob as one full base: a blob of several documents (a base and deltas after it,
 * savepoint format 2) folded, one document returned as is. What a savepoint of the same state in
 * format 1 would hold.
 */
export function compactKeyedBlob(bytes: Uint8Array, what = 'a key-group blob'): Uint8Array {
  const docs = keyedBlobDocs(bytes, what, true);
  if (docs.length === 1) return bytes;
  const rows = new Map<string, unknown>();
  applyKeyedDocs(docs, rows);
  return packr.pack({ v: STATE_BLOB_FORMAT, base: true, flat: flatRows(rows) });
}
