import type { JobGraphDescription } from '@weir/sdk';
import type { SubtaskCheckpointStats, SubtaskSnapshot } from './snapshots/types.js';

/**
 * Control-plane messages between the coordinator and workers (actor messages over NATS
 * request/reply, or in-process). Data never travels here.
 */

/**
 * A subtask's state, as Flink's: DEPLOYING (sent to a worker), INITIALIZING (opening its connectors
 * and restoring its state: no record flows yet), RUNNING, then one of the terminal states.
 */
export type TaskState = 'DEPLOYING' | 'INITIALIZING' | 'RUNNING' | 'FINISHED' | 'CANCELING' | 'CANCELED' | 'FAILED';
export const TERMINAL_TASK_STATES: ReadonlySet<TaskState> = new Set(['FINISHED', 'CANCELED', 'FAILED']);

export interface SerializedError {
  readonly code: string;
  readonly message: string;
  readonly name?: string;
  readonly stack?: string;
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { code: typeof code === 'string' ? code : 'WEIR_TASK_EXCEPTION', message: e.message, name: e.name, ...(e.stack ? { stack: e.stack } : {}) };
  }
  return { code: 'WEIR_TASK_EXCEPTION', message: String(e) };
}

/** Records in and out of one operator of one subtask. */
export interface OperatorCounts {
  readonly in: number;
  readonly out: number;
}

export interface SubtaskRef {
  readonly task: number;
  readonly subtask: number;
}

// ---- worker -> coordinator
/**
 * Version of the control messages between coordinator and workers; raised when they change in a
 * way the other side would misread (2: acknowledgements' key-group names are relative, actor
 * messages over 64 KiB are deflated; 3: a detached savepoint's key groups refer to the job's chain
 * blobs, which the coordinator copies in). A coordinator refuses a worker of another version.
 */
export const PROTOCOL_VERSION = 3;

export interface RegisterWorker {
  readonly type: 'register';
  /** PROTOCOL_VERSION of the worker; absent from workers before version 2. */
  readonly protocol?: number;
  readonly workerId: string;
  readonly slots: number;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: number;
}
export interface Heartbeat {
  readonly type: 'heartbeat';
  readonly workerId: string;
}
export interface TaskStateUpdate {
  readonly type: 'task-state';
  readonly workerId: string;
  readonly jobId: string;
  readonly attempt: number;
  readonly task: number;
  readonly subtask: number;
  readonly state: TaskState;
  readonly error?: SerializedError;
  /** operator uid -> counts, for the operators of this task. */
  readonly counts: Readonly<Record<string, OperatorCounts>>;
}
export interface TaskMetrics {
  readonly type: 'metrics';
  readonly workerId: string;
  readonly tasks: readonly Omit<TaskStateUpdate, 'type' | 'workerId' | 'error'>[];
}
/** Which subtask reports on which checkpoint. */
interface SubtaskCheckpointReport {
  readonly workerId: string;
  readonly jobId: string;
  readonly attempt: number;
  readonly checkpointId: number;
  readonly task: number;
  readonly subtask: number;
}
export interface CheckpointAck extends SubtaskCheckpointReport {
  readonly type: 'checkpoint-ack';
  readonly snapshot: SubtaskSnapshot;
  readonly stats: SubtaskCheckpointStats;
}
export interface CheckpointDecline extends SubtaskCheckpointReport {
  readonly type: 'checkpoint-decline';
  readonly reason: string;
}
/** A subtask's inputs all ended; it waits for one more checkpoint to commit its last output. */
export interface TaskInputsEnded {
  readonly type: 'task-inputs-ended';
  readonly workerId: string;
  readonly jobId: string;
  readonly attempt: number;
  readonly task: number;
  readonly subtask: number;
}
export type CoordinatorMessage = RegisterWorker | Heartbeat | TaskStateUpdate | TaskMetrics | CheckpointAck | CheckpointDecline | TaskInputsEnded;
export interface HeartbeatReply {
  /** False when the coordinator does not know this worker (it restarted): register again. */
  readonly known: boolean;
}

// ---- coordinator -> worker
export interface DeployTasks {
  readonly type: 'deploy';
  readonly jobId: string;
  readonly attempt: number;
  /** Content hash of the job bundle in the artifact store. */
  readonly artifact: string;
  readonly args: Readonly<Record<string, string>>;
  readonly parallelism: number;
  readonly description: JobGraphDescription;
  readonly slot: number;
  readonly subtasks: readonly SubtaskRef[];
  /** `intervalMs`: the job's checkpoint interval (absent from coordinators before 2026-12-05: 1000 is assumed). */
  readonly checkpointing: { readonly enabled: boolean; readonly mode: 'exactly-once' | 'at-least-once'; readonly maxDeltaChain: number; readonly intervalMs?: number };
  /** Restore every subtask from this completed checkpoint of the job (read from the snapshot store). */
  readonly restoreFrom?: number;
}
/** Sent to the workers that run source subtasks: snapshot and emit barrier `checkpointId`. */
export interface TriggerCheckpoint {
  readonly type: 'trigger-checkpoint';
  readonly jobId: string;
  readonly attempt: number;
  readonly checkpointId: number;
  readonly timestamp: number;
  readonly subtasks: readonly SubtaskRef[];
  /** A savepoint: every operator captures its whole state. */
  readonly savepoint?: boolean;
  /**
   * A detached savepoint: the capture is written straight into this savepoint, and the checkpoint
   * id never completes as one of the job's checkpoints (no sink commits, no incremental base).
   */
  readonly savepointTarget?: string;
  /** Stop-with-savepoint: sources stop reading right after this barrier. */
  readonly stopSources?: boolean;
}
/** Stop-with-savepoint with drain: sources end their input now, every task ends its input (timers fire) and waits for the savepoint. */
export interface DrainJob {
  readonly type: 'drain';
  readonly jobId: string;
  readonly attempt: number;
}
/** Build a job's graph description from its bundle (the coordinator cannot run job code; a rescale needs the graph at another parallelism). */
export interface DescribeJob {
  readonly type: 'describe';
  readonly artifact: string;
  readonly args: Readonly<Record<string, string>>;
  readonly parallelism: number;
}
/** Checkpoint `checkpointId` completed: every subtask is told (transactional sinks commit). */
export interface CheckpointComplete {
  readonly type: 'checkpoint-complete';
  readonly jobId: string;
  readonly attempt: number;
  readonly checkpointId: number;
}
export interface CancelJob {
  readonly type: 'cancel';
  readonly jobId: string;
  readonly attempt: number;
}
export interface WorkerStatusRequest {
  readonly type: 'status';
}
export type WorkerMessage = DeployTasks | CancelJob | WorkerStatusRequest | TriggerCheckpoint | CheckpointComplete | DrainJob | DescribeJob;
