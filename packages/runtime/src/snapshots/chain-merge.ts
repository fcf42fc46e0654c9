/**
 * Folding a key group's chain (a full base, then deltas) into one full base, in the blob format of
 * state/snapshot-strategy.ts (state/keyed-blob.ts).
 */
import { applyKeyedBlob, packKeyedBlob, readKeyedBlob } from '../state/keyed-blob.js';

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
  blobs.forEach((bytes, i) => applyKeyedBlob(readKeyedBlob(bytes, `blob ${i} of a key group chain`, i === 0), rows));
  return packKeyedBlob(rows, true);
}
