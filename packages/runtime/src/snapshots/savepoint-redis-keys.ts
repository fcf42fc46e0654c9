/**
 * Every Redis key of the savepoint store, built in one place. The keys of one savepoint share the
 * hash tag `{<cluster>:<spId>}`; the index of all savepoints of a cluster has its own tag.
 */
import { assertToken } from '../subjects.js';
import { assertSavepointId } from './savepoint-names.js';

/** Sorted set of the cluster's savepoint ids, score = createdAt. */
export function redisSavepointIndex(cluster: string): string {
  return `weir:{${assertToken('cluster id', cluster)}}:savepoints`;
}

/** The keys of one savepoint. */
export interface RedisSavepointKeys {
  /** `weir:{<cluster>:<spId>}:` — every key of the savepoint starts with it. */
  readonly prefix: string;
  /** Metadata JSON; present only once every blob is written. */
  readonly meta: string;
  /** While a detached savepoint is taken: the job attempt whose workers may write its blobs (the fence). */
  readonly pending: string;
  /**
   * JSON SavepointReferences: the job blobs a completed savepoint still refers to, until
   * copyReferences copied them in (then deleted).
   */
  readonly references: string;
  /** A blob's binary value, by its canonical name (savepoint-names.ts). */
  blob(name: string): string;
  /**
   * A blob an import staged under its own token (16 hex digits) before it commits: renamed to
   * `blob(name)` by the commit, or expiring if the import never commits.
   */
  staged(token: string, name: string): string;
  /** A blob staged by one worker's write (its `token`) before the fenced step renames it to `blob(name)`; expiring. */
  staging(token: string, name: string): string;
}

/** Keys of savepoint `id` in `cluster` (a token; the id is checked with assertSavepointId). */
export function redisSavepointKeys(cluster: string, id: string): RedisSavepointKeys {
  const prefix = `weir:{${assertToken('cluster id', cluster)}:${assertSavepointId(id)}}:`;
  return { prefix, meta: `${prefix}meta`, pending: `${prefix}pending`, references: `${prefix}references`, blob: (name) => `${prefix}blob:${name}`, staged: (token, name) => `${prefix}import:${token}:blob:${name}`, staging: (token, name) => `${prefix}stage:${token}:blob:${name}` };
}
