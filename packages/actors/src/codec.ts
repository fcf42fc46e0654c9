import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { Packr } from 'msgpackr';

// Records off: every message is self-describing, so any decoder (another process, a fresh
// Unpackr) reads any message without shared structure state. Maps are written as msgpack
// maps and read back as plain objects; undefined, null, numbers, strings, arrays, plain
// objects and Uint8Array round-trip (binary arrives as a Buffer, a Uint8Array subclass).
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** Encode a value for the wire (msgpack). */
export const encode = (value: unknown): Uint8Array => packr.pack(value);

/** Decode bytes produced by {@link encode}. */
export const decode = (bytes: Uint8Array): unknown => packr.unpack(bytes);

/** Messages over this many bytes are deflated on the wire (a checkpoint acknowledgement of thousands of key groups). */
export const DEFLATE_ABOVE = 64 * 1024;
/** First byte of a deflated message: msgpack never uses 0xc1, so no plain message starts with it. */
const DEFLATED = 0xc1;
/** What a deflated message may inflate to: a corrupt or hostile one cannot exhaust memory. */
const MAX_INFLATED = 256 * 1024 * 1024;

/**
 * {@link encode}, deflated when large and smaller so: the repetitive blob names of a large
 * checkpoint acknowledgement shrink ten- to twentyfold, so they fit NATS's max_payload.
 */
export function encodeWire(value: unknown): Uint8Array {
  const bytes = encode(value);
  if (bytes.byteLength <= DEFLATE_ABOVE) return bytes;
  const deflated = deflateRawSync(bytes, { level: 1 });
  if (deflated.byteLength + 1 >= bytes.byteLength) return bytes;
  const out = new Uint8Array(deflated.byteLength + 1);
  out[0] = DEFLATED;
  out.set(deflated, 1);
  return out;
}

/** Decode bytes produced by {@link encodeWire} (or by {@link encode}). */
export function decodeWire(bytes: Uint8Array): unknown {
  return decode(bytes[0] === DEFLATED ? inflateRawSync(bytes.subarray(1), { maxOutputLength: MAX_INFLATED }) : bytes);
}
