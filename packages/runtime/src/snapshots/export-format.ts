/**
 * The portable savepoint file: the magic bytes `WEIRSAV1`, then records, each a u32 big-endian
 * length and that many bytes of plain MessagePack (no msgpackr extensions, so other tools can read
 * it):
 *
 * 1. `{formatVersion, metadata}`
 * 2. one `{name, bytes}` per blob
 * 3. `{end: true, blobs: n, sha256}`: n blob records, and the SHA-256 (hex) of every byte of the
 *    file before this record's length prefix.
 *
 * The framing belongs to the magic; `formatVersion` versions the content. A reader checks the
 * framing and the checksum before anything else, so a damaged file is reported as corrupt rather
 * than as whatever the damage happens to look like.
 */
import { createHash } from 'node:crypto';
import { Packr } from 'msgpackr';
import { WeirError } from '@weir/sdk';
import { isSavepointId, MAX_SAVEPOINT_PARTS, savepointBlobNames, savepointKeyGroupBlob, savepointOperatorStateBlob } from './savepoint-names.js';
import { SAVEPOINT_FORMAT_VERSION, type SavepointMetadata } from './savepoint-types.js';
import type { BlobWrite } from './types.js';

/** First bytes of every export file. */
export const EXPORT_MAGIC = Buffer.from('WEIRSAV1', 'latin1');
const LENGTH_BYTES = 4;
/** Plain maps and bin values only: the file is for other readers too. */
const packr = new Packr({ useRecords: false });

/** What an export file holds. */
export interface SavepointExport {
  readonly metadata: SavepointMetadata;
  /** In file order; the bytes may be views into the file's buffer. */
  readonly blobs: BlobWrite[];
}

/** One export file with `metadata` and `blobs` (which should be every blob the metadata names). */
export function encodeExport(metadata: SavepointMetadata, blobs: readonly BlobWrite[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const writer = new ExportWriter();
  parts.push(...writer.start(metadata));
  for (const b of blobs) parts.push(...writer.blob(b));
  parts.push(...writer.end());
  return Buffer.concat(parts);
}

/**
 * The export file in pieces, in order, so a large savepoint streams instead of being built in
 * memory: `start`, then `blob` for each blob, then `end` (the trailer with the checksum).
 */
export class ExportWriter {
  private readonly hash = createHash('sha256');
  private blobs = 0;

  start(metadata: SavepointMetadata): Uint8Array[] {
    this.hash.update(EXPORT_MAGIC);
    return [EXPORT_MAGIC, ...this.record({ formatVersion: SAVEPOINT_FORMAT_VERSION, metadata })];
  }

  blob(b: BlobWrite): Uint8Array[] {
    this.blobs++;
    return this.record({ name: b.name, bytes: b.bytes });
  }

  end(): Uint8Array[] {
    return encodeRecord({ end: true, blobs: this.blobs, sha256: this.hash.digest('hex') });
  }

  private record(value: unknown): Uint8Array[] {
    const parts = encodeRecord(value);
    for (const p of parts) this.hash.update(p);
    return parts;
  }
}

function encodeRecord(value: unknown): Uint8Array[] {
  const body = packr.pack(value);
  if (body.byteLength > 0xffff_ffff) throw new RangeError(`an export record of ${body.byteLength} bytes does not fit a u32 length`);
  const length = Buffer.alloc(LENGTH_BYTES);
  length.writeUInt32BE(body.byteLength);
  return [length, body];
}

/**
 * The metadata and blobs of an export file. WEIR_SAVEPOINT_CORRUPT (saying what is wrong) if the
 * magic, framing, checksum or contents do not check out; WEIR_SAVEPOINT_FORMAT_UNSUPPORTED if it
 * was written in a newer format than SAVEPOINT_FORMAT_VERSION.
 */
export function decodeExport(bytes: Uint8Array): SavepointExport {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.byteLength < EXPORT_MAGIC.byteLength || !buf.subarray(0, EXPORT_MAGIC.byteLength).equals(EXPORT_MAGIC)) {
    throw corrupt(`bad magic: it does not start with '${EXPORT_MAGIC.toString('latin1')}', so it is not a Weir savepoint export`);
  }
  const records = frame(buf);
  if (records.length < 2) throw corrupt(`truncated: it ends after ${records.length} record(s), before its trailer`);
  const last = records[records.length - 1];
  const trailer = unpack(buf, last, 'the trailer') as { end?: unknown; blobs?: unknown; sha256?: unknown };
  if (trailer?.end !== true) throw corrupt(`truncated: its last record (at byte ${last.at}) is not the trailer`);
  const actual = createHash('sha256').update(buf.subarray(0, last.at)).digest('hex');
  if (trailer.sha256 !== actual) throw corrupt(`checksum mismatch: the trailer says sha256 ${String(trailer.sha256)}, the content has ${actual}`);

  const header = unpack(buf, records[0], 'the header') as { formatVersion?: unknown; metadata?: unknown };
  checkFormatVersion(header?.formatVersion, 'the file');
  const metadata = header.metadata as SavepointMetadata;
  const problem = metadataProblem(metadata);
  if (problem) throw corrupt(`its metadata ${problem}`);
  checkFormatVersion(metadata.formatVersion, `savepoint ${metadata.id}`);

  const blobs = records.slice(1, -1).map((r, i) => {
    const blob = unpack(buf, r, `blob record ${i}`) as { name?: unknown; bytes?: unknown };
    if (typeof blob?.name !== 'string' || !(blob.bytes instanceof Uint8Array)) throw corrupt(`blob record ${i} (at byte ${r.at}) is not {name, bytes}`);
    return { name: blob.name, bytes: blob.bytes };
  });
  if (trailer.blobs !== blobs.length) throw corrupt(`the trailer counts ${String(trailer.blobs)} blobs, the file has ${blobs.length}`);
  const present = new Set<string>();
  for (const b of blobs) {
    if (present.has(b.name)) throw corrupt(`blob '${b.name}' is in it twice`);
    present.add(b.name);
  }
  const named = new Set(savepointBlobNames(metadata));
  const missing = [...named].find((n) => !present.has(n));
  if (missing !== undefined) throw corrupt(`blob '${missing}' named in the metadata is missing`);
  const extra = blobs.find((b) => !named.has(b.name));
  if (extra) throw corrupt(`blob '${extra.name}' is not named in the metadata`);
  return { metadata, blobs };
}

interface RecordAt {
  /** Offset of the length prefix. */
  readonly at: number;
  readonly start: number;
  readonly end: number;
}

/** Splits the file after the magic into records, checking only that the lengths add up. */
function frame(buf: Buffer): RecordAt[] {
  const records: RecordAt[] = [];
  let at = EXPORT_MAGIC.byteLength;
  while (at < buf.byteLength) {
    if (at + LENGTH_BYTES > buf.byteLength) throw corrupt(`truncated: ${buf.byteLength - at} byte(s) at byte ${at} are too few for a record length`);
    const length = buf.readUInt32BE(at);
    const start = at + LENGTH_BYTES;
    if (start + length > buf.byteLength) throw corrupt(`truncated: the record at byte ${at} has ${length} bytes, only ${buf.byteLength - start} are left`);
    records.push({ at, start, end: start + length });
    at = start + length;
  }
  return records;
}

function unpack(buf: Buffer, r: RecordAt, what: string): unknown {
  try {
    return packr.unpack(buf.subarray(r.start, r.end));
  } catch (err) {
    throw corrupt(`${what} (at byte ${r.at}) is not valid MessagePack: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function checkFormatVersion(version: unknown, what: string): void {
  if (!Number.isSafeInteger(version) || (version as number) < 1) throw corrupt(`${what} has no valid formatVersion (${String(version)})`);
  if ((version as number) > SAVEPOINT_FORMAT_VERSION) {
    throw new WeirError('WEIR_SAVEPOINT_FORMAT_UNSUPPORTED', `${what} has savepoint format ${String(version)}; this Weir reads format ${SAVEPOINT_FORMAT_VERSION} and older: import it with a newer Weir`);
  }
}

/** What is wrong with metadata read from a file, if anything (the fields the stores rely on). */
function metadataProblem(m: SavepointMetadata | undefined): string | undefined {
  if (typeof m !== 'object' || m === null) return 'is missing';
  if (typeof m.id !== 'string' || !isSavepointId(m.id)) return `has an invalid id (${String(m.id)})`;
  for (const f of ['jobName', 'jobVersion', 'jobId', 'reason'] as const) if (typeof m[f] !== 'string') return `lacks '${f}'`;
  for (const f of ['checkpointId', 'createdAt', 'sizeBytes'] as const) if (typeof m[f] !== 'number') return `lacks '${f}'`;
  if (typeof m.operators !== 'object' || m.operators === null) return "lacks 'operators'";
  for (const [uid, op] of Object.entries(m.operators)) {
    if (typeof op?.keyGroups !== 'object' || op.keyGroups === null || typeof op.operatorState !== 'object' || op.operatorState === null) return `has a malformed operator '${uid}'`;
    // Only canonical names: a name from the file becomes a key or a file name in the store.
    for (const [g, name] of Object.entries(op.keyGroups)) if (name !== savepointKeyGroupBlob(uid, Number(g))) return `names a blob '${String(name)}' for key group ${g} of '${uid}'`;
    for (const [s, name] of Object.entries(op.operatorState)) if (name !== savepointOperatorStateBlob(uid, Number(s))) return `names a blob '${String(name)}' for subtask ${s} of '${uid}'`;
    if (op.keyGroupParts !== undefined) {
      if (typeof op.keyGroupParts !== 'object' || op.keyGroupParts === null) return `has malformed key group parts for '${uid}'`;
      for (const [g, n] of Object.entries(op.keyGroupParts)) {
        if (!(g in op.keyGroups) || !Number.isInteger(n) || n < 1 || n > MAX_SAVEPOINT_PARTS) return `gives key group ${g} of '${uid}' ${String(n)} parts`;
      }
    }
  }
  return undefined;
}

function corrupt(what: string): WeirError {
  return new WeirError('WEIR_SAVEPOINT_CORRUPT', `the savepoint export file is corrupt: ${what}`);
}
