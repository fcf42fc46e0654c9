/**
 * The body of a keyed-state blob (one key group's full base or delta), in one place for its
 * writer (snapshot-strategy.ts) and its readers (restore, chain merge, inspect). Rows are written
 * as one flat array `[keyId, row, keyId, row, …]` (`row` null: a removed key): it packs and decodes
 * about twice as fast as an array of pairs, since no array per key is made. Blobs with `entries`
 * (`[[keyId, row], …]`, as written before) are still read.
 */
import { Packr, Unpackr } from 'msgpackr';
import { WeirError } from '@weir/sdk';

/** Format version of every document in a keyed or operator state blob. */
export const STATE_BLOB_FORMAT = 1;

/** The settings the writer packs with: Map, Set and typed array values survive. */
const unpackr = new Unpackr({ moreTypes: true });
/**
 * The packer of every state blob, keyed and operator state: `moreTypes` keeps Map and Set values
 * intact; records keep plain objects apart from Maps.
 */
export const statePackr = new Packr({ moreTypes: true });

export interface KeyedBlob {
  readonly v: number;
  readonly base: boolean;
  readonly flat?: readonly unknown[];
  readonly entries?: readonly (readonly [string, unknown])[];
}

/**
 * The flat form of rows by key: a key group's rows (a base), or its changed keys' rows (a delta),
 * where a key without a row is a removal (`null`). Sized up front and filled by `forEach`: a
 * `for…of` with `push` took 3-10× as long for the ~700 rows of a key group's delta (an entry array
 * per key, and the array regrown as it fills).
 */
export function flatRows(rows: ReadonlyMap<string, unknown> | undefined): unknown[] {
  if (!rows) return [];
  const flat = new Array<unknown>(rows.size * 2);
  let i = 0;
  rows.forEach((row, id) => {
    flat[i++] = id;
    flat[i++] = row ?? null;
  });
  return flat;
}

/** Call `fn` for each key of a blob in order; false if the blob has neither form of rows. */
export function forEachRow(blob: KeyedBlob, fn: (id: string, row: unknown) => void): boolean {
  const { flat, entries } = blob;
  if (Array.isArray(flat)) {
    for (let i = 0; i + 1 < flat.length; i += 2) fn(flat[i] as string, flat[i + 1]);
    return true;
  }
  if (Array.isArray(entries)) {
    for (const [id, row] of entries) fn(id, row);
    return true;
  }
  return false;
}

/**
 * A keyed-state blob, checked: one document of this runtime's format with rows, and a full base if
 * `first` (it starts a chain). WEIR_SNAPSHOT_CORRUPT otherwise (also for bytes after the document),
 * naming `what`.
 */
export function readKeyedBlob(bytes: Uint8Array, what: string, first: boolean): KeyedBlob {
  let docs: unknown[];
  try {
    docs = unpackr.unpackMultiple(bytes) as unknown[];
  } catch (err) {
    throw new WeirError('WEIR_SNAPSHOT_CORRUPT', `${what} cannot be decoded: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (docs.length !== 1) throw new WeirError('WEIR_SNAPSHOT_CORRUPT', `${what} holds ${docs.length} documents, not one`);
  const doc = docs[0] as Partial<KeyedBlob> | undefined;
  if (doc?.v !== STATE_BLOB_FORMAT) throw new WeirError('WEIR_SNAPSHOT_CORRUPT', `${what} has format ${String(doc?.v)}; this runtime reads format ${STATE_BLOB_FORMAT}`);
  if (!Array.isArray(doc.flat) && !Array.isArray(doc.entries)) throw new WeirError('WEIR_SNAPSHOT_CORRUPT', `${what} has no rows`);
  if (first && doc.base !== true) throw new WeirError('WEIR_SNAPSHOT_CORRUPT', `${what} does not start with a full base`);
  return doc as KeyedBlob;
}

/** Apply a blob to `rows`, as a restore does: a base starts over, a `null` row removes the key. */
export function applyKeyedBlob(blob: KeyedBlob, rows: Map<string, unknown>): void {
  if (blob.base) rows.clear();
  forEachRow(blob, (id, row) => {
    if (row === null) rows.delete(id);
    else rows.set(id, row);
  });
}

/** A key group's rows as one blob: a full base (its rows by key) or a delta (changed keys; a removed key's row undefined). */
export function packKeyedBlob(rows: ReadonlyMap<string, unknown> | undefined, base: boolean): Uint8Array {
  return statePackr.pack({ v: STATE_BLOB_FORMAT, base, flat: flatRows(rows) });
}

/**
 * Rows packed ahead of a capture (see SnapshotStrategy.prepack): the elements `keyId, row, …` of a
 * blob's flat array, without the array's header. Each run of elements is packed on its own, with
 * its own record definitions, so runs can be joined byte for byte: a reader takes each definition
 * as it comes.
 */
export interface PackedRows {
  readonly bytes: Uint8Array;
  /** Keys (pairs of elements) in `bytes`. */
  readonly rows: number;
}

/**
 * Rows by key (a removed key: undefined) packed as a run of flat elements. Copied out: msgpackr's
 * result is a view of a buffer it shares with every encoding in the process (frames too), and a
 * run kept until the next capture would keep that whole buffer. The joining relies on these
 * settings: records (on by default) defined inline by each pack, no shared structures, no
 * bundled strings.
 */
export function packRows(rows: ReadonlyMap<string, unknown>): PackedRows {
  const doc = statePackr.pack(flatRows(rows));
  return { bytes: Uint8Array.prototype.slice.call(doc, arrayHeaderLength(doc)), rows: rows.size };
}

/** The bytes of a msgpack array's header (the document msgpackr makes of an array). */
function arrayHeaderLength(doc: Uint8Array): number {
  const first = doc[0]!;
  if (first >= 0x90 && first <= 0x9f) return 1;
  if (first === 0xdc) return 3;
  if (first === 0xdd) return 5;
  throw new Error(`not a msgpack array (first byte 0x${first.toString(16)})`);
}

/** A blob's document up to its flat array: `{v, base, flat: […]}` as msgpackr packs it, less the empty array. */
function blobHead(base: boolean): Uint8Array {
  const doc = statePackr.pack({ v: STATE_BLOB_FORMAT, base, flat: [] });
  if (doc[doc.length - 1] !== 0x90) throw new Error('unexpected msgpackr encoding of an empty array');
  return Uint8Array.from(doc.subarray(0, doc.length - 1));
}
const HEADS = { base: blobHead(true), delta: blobHead(false) };

/**
 * One keyed blob (a base or a delta) of runs of rows, in order: a later run's row for a key
 * replaces an earlier one's, as a restore applies them.
 */
export function joinPackedRows(runs: readonly PackedRows[], base: boolean): Uint8Array {
  const head = base ? HEADS.base : HEADS.delta;
  let size = head.length + 5;
  let rows = 0;
  for (const r of runs) {
    size += r.bytes.byteLength;
    rows += r.rows;
  }
  const out = new Uint8Array(size);
  out.set(head, 0);
  let at = head.length;
  out[at] = 0xdd; // array32: readers take every length form
  new DataView(out.buffer).setUint32(at + 1, rows * 2);
  at += 5;
  for (const r of runs) {
    out.set(r.bytes, at);
    at += r.bytes.byteLength;
  }
  return out;
}
