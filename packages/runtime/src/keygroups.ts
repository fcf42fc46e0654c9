import type { Key } from '@weir/sdk';

/**
 * Key -> key group -> subtask, as in Flink: keyGroup = murmur(hash(key)) mod maxParallelism, and
 * subtask i of p owns a contiguous range of key groups. Pure and stable across processes.
 */

/** A canonical string for a key, so that equal keys (by value) share state everywhere. */
export function keyId(key: Key): string {
  if (typeof key === 'string') return key;
  if (typeof key === 'number') return `\u0001${key}`;
  if (Array.isArray(key)) return `\u0002${JSON.stringify(key)}`;
  throw new TypeError(`keys must be strings, numbers or arrays of them; got ${typeof key}`);
}

/** Java-style string hash over UTF-16 units, finalized with murmur3's fmix32. */
export function hashKeyId(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (Math.imul(h, 31) + id.charCodeAt(i)) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function keyGroupOf(id: string, maxParallelism: number): number {
  return hashKeyId(id) % maxParallelism;
}

/** The subtask that owns a key group (Flink's computeOperatorIndexForKeyGroup). */
export function subtaskForKeyGroup(keyGroup: number, maxParallelism: number, parallelism: number): number {
  return Math.floor((keyGroup * parallelism) / maxParallelism);
}

export interface KeyGroupRange {
  readonly start: number;
  /** Inclusive. */
  readonly end: number;
}

/** The key groups subtask `index` of `parallelism` owns. */
export function keyGroupRange(maxParallelism: number, parallelism: number, index: number): KeyGroupRange {
  return {
    start: Math.floor((index * maxParallelism + parallelism - 1) / parallelism),
    end: Math.floor(((index + 1) * maxParallelism - 1) / parallelism),
  };
}
