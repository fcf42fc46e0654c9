/**
 * The body of a keyed-state blob (one key group's full base or delta), in one place for its
 * writer (snapshot-strategy.ts) and its readers (restore, chain merge, inspect). Rows are written
 * as one flat array `[keyId, row, keyId, row, …]` (`row` null: a removed key): it packs and decodes
 * about twice as fast as an array of pairs, since no array per key is made. Blobs with `entries`
 * (`[[keyId, row], …]`, as written before) are still read.
 */

export interface KeyedBlob {
  readonly v: number;
  readonly base: boolean;
  readonly flat?: readonly unknown[];
  readonly entries?: readonly (readonly [string, unknown])[];
}

/** The flat form of a key group's rows (a base). */
export function flatRows(rows: ReadonlyMap<string, unknown> | undefined): unknown[] {
  if (!rows) return [];
  const flat = new Array<unknown>(rows.size * 2);
  let i = 0;
  rows.forEach((row, id) => {
    flat[i++] = id;
    flat[i++] = row;
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
