/**
 * Folding a key group's chain (a full base, then deltas) into one full base, in the blob format of
 * state/snapshot-strategy.ts (state/keyed-blob.ts).
 */
import { Packr } from 'msgpackr';
import { WeirError } from '@weir/sdk';
import { flatRows, forEachRow, type KeyedBlob } from '../state/keyed-blob.js';

/** Blob format version this code reads and writes (snapshot-strategy.ts writes the same). */
const FORMAT = 1;
/** The settings snapshot-strategy.ts packs with: Map, Set and typed array values survive. */
const packr = new Packr({ moreTypes: true });


/**
 * One full base blob with the state `blobs` (base first, then deltas in order) describe, as a
 * restore would rebuild it: a delta's row replaces the key's row, a `null` row removes the key, a
 * later base starts over. A chain of one blob is returned as is (it already is a full base).
 * WEIR_SNAPSHOT_CORRUPT if a blob has another format version or the chain does not start with a base.
 */
export function mergeChain(blobs: readonly Uint8Array[]): Uint8Array {
  if (blobs.length === 0) throw new RangeError('mergeChain needs at least one blob');
  if (blobs.length === 1) return blobs[0];
  const rows = new Map<string, unknown>();
  blobs.forEach((bytes, i) => {
    const blob = unpack(bytes, i);
    if (blob?.v !== FORMAT) throw new WeirError('WEIR_SNAPSHOT_CORRUPT', `blob ${i} of a key group chain has format ${String(blob?.v)}; this runtime reads format ${FORMAT}`);
    if (!Array.isArray(blob.flat) && !Array.isArray(blob.entries)) throw new WeirError('WEIR_SNAPSHOT_CORRUPT', `blob ${i} of a key group chain has no entries`);
    if (i === 0 && blob.base !== true) throw new WeirError('WEIR_SNAPSHOT_CORRUPT', 'a key group chain does not start with a full base');
    if (blob.base === true) rows.clear();
    forEachRow(blob as KeyedBlob, (id, row) => {
      if (row === null) rows.delete(id);
      else rows.set(id, row);
    });
  });
  return packr.pack({ v: FORMAT, base: true, flat: flatRows(rows) });
}

function unpack(bytes: Uint8Array, i: number): { v?: unknown; base?: unknown; flat?: unknown; entries?: unknown } | undefined {
  try {
    return packr.unpack(bytes) as { v?: unknown; base?: unknown; flat?: unknown; entries?: unknown } | undefined;
  } catch (err) {
    throw new WeirError('WEIR_SNAPSHOT_CORRUPT', `blob ${i} of a key group chain cannot be decoded: ${err instanceof Error ? err.message : String(err)}`);
  }
}
