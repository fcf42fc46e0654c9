import { Packr } from 'msgpackr';

// Plain structures only; record extension off so any decoder reads any message.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export const encode = (value: unknown): Uint8Array => packr.pack(value);
export const decode = (bytes: Uint8Array): unknown => packr.unpack(bytes);
