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
