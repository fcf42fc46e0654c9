/**
 * What checkpoints store and where. Blobs hold state (msgpackr); metadata says which blobs make
 * up a checkpoint. Blob names are logical (built by `blobName` in names.ts); a store maps them to
 * its own keys or paths.
 */

/** One blob to write. */
export interface BlobWrite {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/**
 * A detached savepoint's key group made from the job's own stored blobs: each blob of the chain (a
 * full base, then deltas, names as in names.ts) becomes a part of the savepoint (`name`, then
 * `name/1`, …; chainedWriteParts; linked at once, or on Redis copied in once the savepoint
 * completed), then `tail` (a delta of the rows changed since, if any) is the last part: the whole
 * state of the key group, without packing it again.
 */
export interface ChainedBlobWrite {
  readonly name: string;
  readonly chain: readonly string[];
  readonly tail?: Uint8Array;
}

/** What a detached savepoint's capture hands over: a blob packed now, or one made from stored blobs. */
export type SavepointBlobWrite = BlobWrite | ChainedBlobWrite;

/** The state of one operator of one subtask in a checkpoint (what a subtask acknowledges with). */
export interface OperatorSubtaskSnapshot {
  /** key group -> blob names: the full base first, then deltas in order. */
  readonly keyGroups: Readonly<Record<number, readonly string[]>>;
  /** Blob of the subtask's non-keyed state (source position, actor state of a non-keyed actor). */
  readonly operatorState?: string;
  /**
   * Set on restore when the checkpoint's parallelism of this operator differs from the running
   * one: then `operatorState` is absent and every old subtask's blob is listed here by old index
   * (undefined where an old subtask stored none), for the operator to redistribute.
   */
  readonly rescaledFrom?: {
    readonly parallelism: number;
    readonly operatorStates: readonly (string | undefined)[];
    /** Old subtasks of this operator that had finished (a sink's had committed everything it held). */
    readonly finished?: readonly number[];
  };
  /**
   * Detached savepoints: the bytes this subtask stored for the operator in the savepoint (its blobs
   * and key-group parts, as the store reported them), so the coordinator records the savepoint
   * without reading every blob's size back.
   */
  readonly savepointBytes?: number;
  /**
   * Detached savepoints: per key group made from the job's checkpoint chain (ChainedBlobWrite), the
   * chain's blob names, part i of the key group being made of `chain[i]`: the references a snapshot
   * store that does not copy chains leaves for SavepointStore.complete and copyReferences.
   */
  readonly savepointChains?: Readonly<Record<number, readonly string[]>>;
  /** Only on the wire (ack-names.ts): `keyGroups` names are relative to `ks/<uid>/<group>`. */
  readonly namesRelative?: true;
}

/** A subtask's acknowledgement payload: operator uid -> its snapshot. */
export interface SubtaskSnapshot {
  readonly operators: Readonly<Record<string, OperatorSubtaskSnapshot>>;
}

/** Byte and time figures of one subtask's part of a checkpoint. */
export interface SubtaskCheckpointStats {
  /** Time from trigger (or first barrier) to the end of the synchronous part (ms). */
  readonly syncMs: number;
  /** Time of the asynchronous write (ms). */
  readonly asyncMs: number;
  /** Time channels were held back waiting for barriers (ms). */
  readonly alignmentMs: number;
  /**
   * Trigger → the barrier reached the subtask (ms): a source's trigger message, another's first
   * barrier (Flink's start delay). Against the coordinator's trigger time, so clock skew between
   * machines shows in it. Optional on the wire: older workers leave it out.
   */
  readonly startDelayMs?: number;
  /** Size of the whole state the snapshot describes (bytes, estimated from blob sizes). */
  readonly stateBytes: number;
  /** Bytes written for this checkpoint (the increment). */
  readonly writtenBytes: number;
  /**
   * Of those, bytes packed ahead of the barrier (runs of changed rows the capture joined instead of
   * packing them; SnapshotStrategy.prepack). Absent from workers before 2026-12-05.
   */
  readonly packedAheadBytes?: number;
}

/** The state of one operator (all subtasks) in a completed checkpoint. */
export interface OperatorSnapshot {
  readonly maxParallelism: number;
  readonly parallelism: number;
  readonly keyGroups: Readonly<Record<number, readonly string[]>>;
  /** subtask index -> blob name. */
  readonly operatorState: Readonly<Record<number, string>>;
}

/** Metadata of a completed checkpoint, written atomically with the job's latest pointer. */
export interface CompletedCheckpoint {
  readonly formatVersion: 1;
  readonly id: number;
  readonly jobId: string;
  readonly attempt: number;
  /** Trigger time (ms since epoch). */
  readonly timestamp: number;
  readonly completedAt: number;
  readonly operators: Readonly<Record<string, OperatorSnapshot>>;
  /**
   * `${uid}/${subtask}` of subtasks that had finished, for every operator of their task (before
   * 2026-12-05 only the task's head): restored as finished (no replay).
   */
  readonly finished: readonly string[];
  readonly stateBytes: number;
  readonly writtenBytes: number;
}

/**
 * Where checkpoint state lives. Implementations: Redis (clusters) and a directory (embedded
 * default, tests). Every write is fenced by the job's current attempt: once `fence(job, n)` ran,
 * writes from attempts below n are refused with WEIR_SNAPSHOT_FENCED.
 */
export interface SnapshotStore {
  /**
   * True if this store carries out calls in the order they are made, whether or not earlier ones
   * have answered (Redis: one connection, served in order). A subtask then sends a savepoint's
   * check of its chains as soon as its earlier checkpoint writes are sent, not once they answered.
   */
  readonly ordered?: boolean;
  /** Make `attempt` the job's current attempt. Refuses (WEIR_SNAPSHOT_FENCED) an attempt lower than the stored one. */
  fence(jobId: string, attempt: number): Promise<void>;
  /** Write blobs, fenced; resolves with the bytes written. */
  writeBlobs(jobId: string, attempt: number, blobs: readonly BlobWrite[]): Promise<number>;
  /**
   * Write blobs of savepoint `savepointId` while it is being taken (a detached savepoint), under
   * their canonical names, straight into the savepoint store's layout. Fenced by the savepoint's
   * pending marker (SavepointStore.prepare): refused (WEIR_SNAPSHOT_FENCED) once the savepoint
   * completed or was abandoned, or for another attempt. Resolves with the bytes written.
   */
  writeSavepointBlobs(savepointId: string, attempt: number, blobs: readonly BlobWrite[]): Promise<number>;
  /**
   * Make key groups of savepoint `savepointId` out of job `jobId`'s stored blobs (see
   * ChainedBlobWrite), inside the store: the chain's bytes do not travel. Fenced as
   * writeSavepointBlobs; a chain blob that is not stored is WEIR_SNAPSHOT_MISSING. Resolves with
   * the bytes of every part, tails and chain blobs. The tails are written now; the chain's parts
   * are made now (the directory store hard-links them) or left as references to the job's blobs
   * (Redis: a copy of megabytes would hold up the savepoint), which the paired savepoint store's
   * `complete` records and its `copyReferences` copies in.
   */
  writeSavepointChains(jobId: string, savepointId: string, attempt: number, writes: readonly ChainedBlobWrite[]): Promise<number>;
  /** Read blobs in the order asked; a missing one is WEIR_SNAPSHOT_MISSING. */
  readBlobs(jobId: string, names: readonly string[]): Promise<Uint8Array[]>;
  deleteBlobs(jobId: string, names: readonly string[]): Promise<void>;
  /** Store the metadata and set the latest pointer in one atomic, fenced step. */
  commitCheckpoint(jobId: string, attempt: number, checkpoint: CompletedCheckpoint): Promise<void>;
  /** Delete metadata of checkpoints (not their blobs). */
  removeCheckpoints(jobId: string, ids: readonly number[]): Promise<void>;
  latestCheckpoint(jobId: string): Promise<CompletedCheckpoint | undefined>;
  getCheckpoint(jobId: string, id: number): Promise<CompletedCheckpoint | undefined>;
  /** Ids of the checkpoints whose metadata is stored, ascending. */
  listCheckpoints(jobId: string): Promise<number[]>;
  /** Delete everything of a job: blobs, metadata, pointer, fencing token. */
  deleteJob(jobId: string): Promise<void>;
  close(): Promise<void>;
}
