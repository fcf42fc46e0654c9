import { Packr, Unpackr } from 'msgpackr';

/**
 * A frame is what crosses a data channel: a batch of records, or an in-band control event.
 * Wire form: msgpackr of [kind, channelSeq, payload]. Record structures are encoded inline, so
 * each frame decodes on its own.
 */
export const enum FrameKind {
  Records = 0,
  End = 2,
}

export type Frame =
  | { readonly kind: FrameKind.Records; readonly seq: number; readonly records: unknown[] }
  | { readonly kind: FrameKind.End; readonly seq: number };

const packr = new Packr();
const unpackr = new Unpackr();

export function encodeRecords(seq: number, records: unknown[]): Uint8Array {
  return packr.pack([FrameKind.Records, seq, records]);
}

export function encodeEnd(seq: number): Uint8Array {
  return packr.pack([FrameKind.End, seq, null]);
}

export function decodeFrame(bytes: Uint8Array): Frame {
  const [kind, seq, payload] = unpackr.unpack(bytes) as [number, number, unknown];
  if (kind === FrameKind.Records) return { kind, seq, records: payload as unknown[] };
  if (kind === FrameKind.End) return { kind, seq };
  throw new Error(`unknown frame kind ${kind}`);
}
