import { Packr, Unpackr } from 'msgpackr';
import type { Barrier } from './task/barrier-aligner.js';

/**
 * A frame is what crosses a data channel: a batch of records, or an in-band control event. A
 * channel inside one process hands the frame object itself to its receiver; a channel between
 * processes encodes it. Wire form: msgpackr of [kind, channelSeq, payload]. Record structures are
 * encoded inline, so each frame decodes on its own.
 */
export const enum FrameKind {
  Records = 0,
  Barrier = 1,
  End = 2,
}

export type Frame =
  | { readonly kind: FrameKind.Records; readonly records: unknown[] }
  | { readonly kind: FrameKind.Barrier; readonly barrier: Barrier }
  /** `drain`: the input ended because the job is stopping with a drain (the receiver drains too). */
  | { readonly kind: FrameKind.End; readonly drain?: true };

/** A decoded frame with the sequence number its channel gave it on the wire. */
export type WireFrame = Frame & { readonly seq: number };

const packr = new Packr();
const unpackr = new Unpackr();

export function encodeRecords(seq: number, records: unknown[]): Uint8Array {
  return packr.pack([FrameKind.Records, seq, records]);
}

/**
 * A checkpoint barrier, in-band after the records before it: `[id, timestamp]`, `[id, timestamp, 1]`
 * for a full capture, `[id, timestamp, 1, savepointId]` for a detached savepoint.
 */
export function encodeBarrier(seq: number, b: Barrier): Uint8Array {
  const payload = b.savepoint !== undefined ? [b.id, b.timestamp, 1, b.savepoint] : b.full === true ? [b.id, b.timestamp, 1] : [b.id, b.timestamp];
  return packr.pack([FrameKind.Barrier, seq, payload]);
}

export function encodeEnd(seq: number, drain = false): Uint8Array {
  return packr.pack([FrameKind.End, seq, drain ? 1 : null]);
}

/** Encode a frame as channel sequence number `seq` of its channel. */
export function encodeFrame(seq: number, f: Frame): Uint8Array {
  switch (f.kind) {
    case FrameKind.Records:
      return encodeRecords(seq, f.records);
    case FrameKind.Barrier:
      return encodeBarrier(seq, f.barrier);
    case FrameKind.End:
      return encodeEnd(seq, f.drain === true);
  }
}

export function decodeFrame(bytes: Uint8Array): WireFrame {
  const [kind, seq, payload] = unpackr.unpack(bytes) as [number, number, unknown];
  if (kind === FrameKind.Records) return { kind, seq, records: payload as unknown[] };
  if (kind === FrameKind.End) return payload === 1 ? { kind, seq, drain: true } : { kind, seq };
  if (kind === FrameKind.Barrier) {
    const [id, timestamp, full, savepoint] = payload as [number, number, number?, string?];
    const barrier: Barrier = typeof savepoint === 'string' ? { id, timestamp, full: true, savepoint } : { id, timestamp, full: full === 1 };
    return { kind, seq, barrier };
  }
  throw new Error(`unknown frame kind ${kind}`);
}

/**
 * The channel sequence number of a frame, read from its header without decoding the records
 * (a msgpack fixarray of 3, a fixint kind, then the seq as a msgpack unsigned integer).
 */
export function frameSeq(bytes: Uint8Array): number {
  if (bytes[0] !== 0x93) throw new Error('not a frame');
  const b = bytes[2]!;
  if (b < 0x80) return b;
  // Big-endian bytes read by hand: a DataView per frame is garbage.
  if (b === 0xcc && bytes.length >= 4) return bytes[3]!;
  if (b === 0xcd && bytes.length >= 5) return (bytes[3]! << 8) | bytes[4]!;
  if (b === 0xce && bytes.length >= 7) return ((bytes[3]! << 24) >>> 0) + ((bytes[4]! << 16) | (bytes[5]! << 8) | bytes[6]!);
  if (b === 0xcf) return Number(new DataView(bytes.buffer, bytes.byteOffset + 3, Math.min(8, bytes.length - 3)).getBigUint64(0));
  // Other encodings (e.g. a float) do not occur for non-negative integer seqs; decode fully.
  return decodeFrame(bytes).seq;
}
