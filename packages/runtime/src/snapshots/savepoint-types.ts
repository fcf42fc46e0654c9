/**
 * Savepoints: self-contained, full snapshots in a canonical, versioned format, kept until disposed.
 * A savepoint of a running job is detached: its workers write it straight into the savepoint's
 * own namespace (a key group's blob is made from the job's stored chain plus the rows changed
 * since). A stop or rescale makes it from a completed checkpoint taken with full captures, whose
 * blobs the store copies under canonical names. Either way no checkpoint cleanup can touch it.
 */
import type { SavepointCompaction } from './savepoint-compaction.js';
import type { CompletedCheckpoint } from './types.js';

/**
 * Format of savepoint metadata and export files; a reader refuses a newer one. 2: a key group may
 * be several blobs (`keyGroupParts`: a full base, then deltas), as a detached savepoint copies them
 * from the job's chain. 1: one full base per key group.
 */
export const SAVEPOINT_FORMAT_VERSION = 2;

/** Why a savepoint was taken. */
export type SavepointReason = 'manual' | 'stop' | 'rescale';

/** One operator's state in a savepoint. */
export interface SavepointOperator {
  readonly uid: string;
  /** Operator kind when taken ('source', 'actor', 'sink', ...). */
  readonly kind: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly keyed: boolean;
  /** Declared state of an actor: state name -> kind ('value', 'list', 'map', ...). */
  readonly state?: Readonly<Record<string, string>>;
  /** key group -> canonical name of its (first) blob, `ks/<uid>/<group>`: a full base. */
  readonly keyGroups: Readonly<Record<number, string>>;
  /**
   * Format 2: key group -> its number of blobs, where more than one: `ks/<uid>/<group>`, then
   * `…/1`, `…/2`, … (deltas, applied in order; savepointKeyGroupParts). Absent: one each.
   */
  readonly keyGroupParts?: Readonly<Record<number, number>>;
  /** subtask index -> canonical blob name (`os/<uid>/<subtask>`). */
  readonly operatorState: Readonly<Record<number, string>>;
  /** Bytes of this operator's blobs. */
  readonly bytes: number;
}

/** Metadata of a savepoint (stored as JSON next to its blobs, and first in an export file). */
export interface SavepointMetadata {
  readonly formatVersion: number;
  /** `sp-` + 16 hex digits. */
  readonly id: string;
  readonly jobName: string;
  readonly jobVersion: string;
  /** The job the savepoint was taken from. */
  readonly jobId: string;
  /** The checkpoint id it was taken as; a job resumed from it continues with higher ids. */
  readonly checkpointId: number;
  readonly reason: SavepointReason;
  /** ms since epoch. */
  readonly createdAt: number;
  /** Sum of the blobs' bytes. */
  readonly sizeBytes: number;
  readonly operators: Readonly<Record<string, SavepointOperator>>;
  /** Set when imported from an export file: when (ms since epoch). An import keeps the id it had where it was exported. */
  readonly importedAt?: number;
  /** Set once its key groups of several parts were folded into one full base each (savepoint-compaction.ts): when. */
  readonly compactedAt?: number;
}

/**
 * The parts of a detached savepoint that are still the job's own blobs when it completes: each key
 * group made from a checkpoint chain names those blobs (`from`, the job's names) for its first parts
 * (`to`, the savepoint's canonical part names). SavepointStore.copyReferences copies them in.
 */
export interface SavepointReferences {
  readonly jobId: string;
  readonly copies: readonly { readonly from: string; readonly to: string }[];
}

/** What the coordinator knows of the job when a savepoint completes (the checkpoint lacks it). */
export interface SavepointJobInfo {
  readonly jobId: string;
  readonly jobName: string;
  readonly jobVersion: string;
  readonly reason: SavepointReason;
  /** uid -> kind, keyed, declared state (from the job graph description). */
  readonly operators: Readonly<Record<string, { readonly kind: string; readonly keyed: boolean; readonly state?: Readonly<Record<string, string>> }>>;
}

/**
 * Where savepoints live. Implementations pair with a snapshot store (Redis with Redis, directory
 * with directory) because creating and restoring copy blobs between the two namespaces. A method
 * given an id that is not `sp-` + 16 hex digits refuses it (WEIR_SAVEPOINT_ID_INVALID).
 */
export interface SavepointStore {
  /**
   * Make a savepoint from a completed checkpoint of `info.jobId`. Chains longer than one blob (key
   * groups carried over from finished subtasks) are merged into one full blob.
   */
  create(checkpoint: CompletedCheckpoint, info: SavepointJobInfo): Promise<SavepointMetadata>;
  /**
   * Detached savepoints (taken while the job runs on; the workers write the blobs themselves,
   * SnapshotStore.writeSavepointBlobs): open savepoint `id` for writes by `attempt`'s workers.
   */
  prepare(id: string, attempt: number): Promise<void>;
  /**
   * Close a detached savepoint for writes and record it: `taken` names, per operator, exactly the
   * canonical blobs the workers wrote (one per key group and per subtask). WEIR_SNAPSHOT_MISSING if
   * one is absent, WEIR_SAVEPOINT_NOT_FOUND if the savepoint was abandoned meanwhile.
   * `operatorBytes` (uid -> bytes, the workers' own figures): the store may record the savepoint
   * with them instead of reading every blob's size, after checking that they add up to what it holds.
   * `references`: the parts the workers left as the job's blobs (SnapshotStore.writeSavepointChains
   * of a store that does not copy chains): checked to exist and counted like the rest; the savepoint
   * is whole once copyReferences resolves. A store whose snapshot store made every part ignores them.
   */
  complete(id: string, taken: CompletedCheckpoint, info: SavepointJobInfo, operatorBytes?: Readonly<Record<string, number>>, references?: SavepointReferences): Promise<SavepointMetadata>;
  /**
   * Make a completed savepoint self-contained: copy in the job blobs its `complete` was given as
   * references, if the store left any (the Redis store does: the copy is off the savepoint's
   * critical path). Until it resolves the caller keeps those job blobs (JobCheckpoints pins them).
   * Idempotent, and concurrent calls share one copy; every reader of the savepoint (restore,
   * export, inspection, compaction) waits for it first, and a coordinator that starts calls it for
   * every savepoint, so a copy its predecessor left half done is finished before anything reads.
   * WEIR_SNAPSHOT_MISSING if a referenced job blob is gone.
   */
  copyReferences(id: string): Promise<void>;
  /** Close a detached savepoint that failed for writes and delete whatever of `names` was written. */
  abandon(id: string, names: readonly string[]): Promise<void>;
  /** The metadata, or undefined if there is no such savepoint. */
  get(id: string): Promise<SavepointMetadata | undefined>;
  /** All savepoints, newest first; optionally only those of one job name. */
  list(filter?: { readonly jobName?: string }): Promise<SavepointMetadata[]>;
  /** Blobs of a savepoint by canonical name, in the order asked (WEIR_SNAPSHOT_MISSING if one is absent). */
  readBlobs(id: string, names: readonly string[]): Promise<Uint8Array[]>;
  /** Delete the savepoint's metadata and blobs (WEIR_SAVEPOINT_NOT_FOUND if unknown). */
  dispose(id: string): Promise<void>;
  /**
   * The export file (export-format.ts), in pieces, reading a few blobs at a time (REST streams it).
   * Resolves once the savepoint is known to exist (WEIR_SAVEPOINT_NOT_FOUND before any byte).
   */
  exportStream(id: string): Promise<AsyncIterable<Uint8Array>>;
  /**
   * Load an export file as a new savepoint here, under the id it has in the file: WEIR_SAVEPOINT_CORRUPT
   * if it does not check out, WEIR_SAVEPOINT_FORMAT_UNSUPPORTED if it is of a newer format,
   * WEIR_SAVEPOINT_EXISTS if this store already has that id.
   */
  importFile(bytes: Uint8Array): Promise<SavepointMetadata>;
  /**
   * Copy the state of the operators `uids` into `jobId`'s snapshot-store namespace (blob names from
   * names.ts with attempt 0 and the savepoint's checkpoint id), then commit it there, fenced by
   * `attempt`, as the job's latest completed checkpoint with id `checkpointId`, so the ordinary
   * restore path (and a failover before the first checkpoint) restores it. Operators in
   * `withoutOperatorState` get their keyed state only (sinks: their pending transactions belong to
   * the job that took the savepoint). Each OperatorSnapshot keeps the savepoint's parallelism, so a
   * restore at another parallelism sees the change. `finished` is empty.
   */
  materialize(id: string, target: { readonly jobId: string; readonly attempt: number; readonly uids: readonly string[]; readonly withoutOperatorState: readonly string[] }): Promise<CompletedCheckpoint>;
  /**
   * Fold every key group of several parts (a detached savepoint's chain and tail) into one full
   * base, in the background: the savepoint restores to the same state at every step, also for
   * restores and exports already running (savepoint-compaction.ts). Undefined if it is gone, has
   * nothing to fold, or `signal` stopped it early (the savepoint is then whole, unfolded).
   */
  compact(id: string, signal?: AbortSignal): Promise<SavepointCompaction | undefined>;
  /**
   * Delete what savepoints that were never completed left (their coordinator died while taking
   * one, or while abandoning it): everything of a savepoint id with no metadata, none of it touched
   * for `olderThanMs`, that this store instance is not writing. The age keeps a savepoint another
   * coordinator is still taking (one that just lost leadership) out of reach; such a savepoint
   * then fails cleanly (its writes are fenced). The Redis store cannot tell the age of a fence
   * marker with no blob under it yet, and deletes it at once. Resolves with the ids deleted.
   */
  sweepOrphans(olderThanMs: number): Promise<string[]>;
  /** Where a savepoint lives, for people (e.g. `redis://host:6379/0 weir:{c:sp-…}:` or a directory). */
  location(id: string): string;
  close(): Promise<void>;
}
