/**
 * Every Redis key of the snapshot store, built in one place. All keys of one job share the hash tag
 * `{<cluster>:<jobId>}`: the fencing scripts touch several of them at once, which Redis Cluster
 * only allows within one slot, and `deleteJob` can find them all with one SCAN pattern.
 */
import { assertToken } from '../subjects.js';

/** The keys of one job. */
export interface RedisJobKeys {
  /** `weir:{<cluster>:<jobId>}:` — every key of the job starts with it. */
  readonly prefix: string;
  /** SCAN MATCH pattern of every key of the job (the prefix has no glob characters: tokens only). */
  readonly pattern: string;
  /** Fencing token: the job's current attempt, an integer string. */
  readonly attempt: string;
  /** Sorted set of completed checkpoint ids (score = id). */
  readonly checkpoints: string;
  /** Id of the latest completed checkpoint. */
  readonly latest: string;
  /** A blob's binary value, by its logical name (names.ts). */
  blob(name: string): string;
  /** Metadata JSON of one checkpoint. */
  checkpoint(id: number): string;
  /** A blob staged by one write (its `token`) before the fenced step renames it to `blob(name)`; expiring. */
  staging(token: string, name: string): string;
}

/** Keys of `jobId` in `cluster`; both must be tokens (letters, digits, `_`, `-`). */
export function redisJobKeys(cluster: string, jobId: string): RedisJobKeys {
  const prefix = `weir:{${assertToken('cluster id', cluster)}:${assertToken('job id', jobId)}}:`;
  return {
    prefix,
    pattern: `${prefix}*`,
    attempt: `${prefix}attempt`,
    checkpoints: `${prefix}cps`,
    latest: `${prefix}latest`,
    blob: (name) => `${prefix}blob:${name}`,
    checkpoint: (id) => `${prefix}cp:${id}`,
    staging: (token, name) => `${prefix}stage:${token}:blob:${name}`,
  };
}
