/**
 * Redis helpers of the Redis stores (redis-store.ts, redis-savepoint-store.ts): chunked reads and
 * deletes, write chunks bounded by bytes and by count, pipeline replies, and the client's address.
 */
import type { Redis } from 'ioredis';
import type { BlobWrite } from './types.js';

/** Payload of one write call or pipeline: big enough to amortise round trips, small enough not to block Redis long. */
const WRITE_CHUNK_BYTES = 8 * 1024 * 1024;
/** Blobs per write call or pipeline, so many tiny blobs do not make one huge call either. */
const WRITE_CHUNK_BLOBS = 1000;
/** Keys per MGET. */
const READ_CHUNK = 256;
/** Keys per UNLINK (and checkpoints per removal script call of redis-store.ts). */
export const DELETE_CHUNK = 1000;

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Groups writes into calls of at most WRITE_CHUNK_BYTES (as `bytesOf` counts them) and
 * WRITE_CHUNK_BLOBS (a bigger one goes alone). Blobs by default.
 */
export function chunkBySize<T = BlobWrite>(items: readonly T[], bytesOf: (item: T) => number = (b) => (b as BlobWrite).bytes.byteLength): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = bytesOf(item);
    if (current.length > 0 && (bytes + size > WRITE_CHUNK_BYTES || current.length >= WRITE_CHUNK_BLOBS)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** A view of the same memory: Redis gets the bytes as a binary argument, never a string. */
export function toBuffer(u8: Uint8Array): Buffer {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/** MGET of `keys` as binary values (null: no such key), READ_CHUNK keys per call, all calls sent at once. */
export async function mgetBuffers(redis: Redis, keys: readonly string[]): Promise<(Buffer | null)[]> {
  return (await Promise.all(chunk(keys, READ_CHUNK).map((part) => redis.mgetBuffer(part)))).flat();
}

/** MGET of `keys` as strings (null: no such key), READ_CHUNK keys per call, all calls sent at once. */
export async function mgetStrings(redis: Redis, keys: readonly string[]): Promise<(string | null)[]> {
  return (await Promise.all(chunk(keys, READ_CHUNK).map((part) => redis.mget(part)))).flat();
}

/** UNLINK of `keys`, DELETE_CHUNK keys per call, all calls sent at once. */
export async function unlinkAll(redis: Redis, keys: readonly string[]): Promise<void> {
  await Promise.all(chunk(keys, DELETE_CHUNK).map((part) => redis.unlink(part)));
}

/**
 * Like Promise.all, but settles only once every promise has: a caller that cleans up after a
 * failure must not race writes that are still under way.
 */
export async function allSettledOrThrow<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** The replies of a pipeline or MULTI; the first failed command's error is thrown. */
export function checkExec(results: [Error | null, unknown][] | null): unknown[] {
  if (results === null) throw new Error('the transaction was aborted');
  for (const [err] of results) if (err) throw err;
  return results.map(([, value]) => value);
}

/** Where the client connects, without credentials. */
export function redisAddress(redis: Redis): string {
  const o = redis.options;
  if (o.path) return `unix:${o.path}`;
  if (o.sentinels?.length) return `sentinel master '${o.name ?? ''}'`;
  return `redis://${o.host ?? '127.0.0.1'}:${o.port ?? 6379}/${o.db ?? 0}`;
}
