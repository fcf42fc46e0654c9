import type { ExecutionPlan, OperatorCounts, SerializedError, TaskState } from '@weir/runtime';
import type { CheckpointConfig, JobGraphDescription, RestartStrategyConfig } from '@weir/sdk';
import type { RestartStrategy } from './checkpoint/index.js';
import type { JobCheckpoints } from './job-checkpoints.js';
import type { JobStatus } from './job-status.js';

export interface SubtaskStatus {
  state: TaskState;
  workerId: string;
  counts: Record<string, OperatorCounts>;
}

export interface JobFailure extends SerializedError {
  readonly time: number;
  readonly task?: string;
  readonly subtask?: number;
  readonly workerId?: string;
  readonly attempt?: number;
}

/** A job as the coordinator tracks it. */
export interface Job {
  readonly id: string;
  /** Replaced by a rescale (with the plan and the parallelism). */
  description: JobGraphDescription;
  plan: ExecutionPlan;
  readonly artifact: string;
  readonly args: Readonly<Record<string, string>>;
  parallelism: number;
  /** The savepoint the job started from. */
  readonly fromSavepoint?: string;
  /** Set when a stop-with-savepoint or a rescale took a savepoint. */
  lastSavepoint?: string;
  status: JobStatus;
  attempt: number;
  readonly submittedAt: number;
  startTime?: number;
  endTime?: number;
  /** `${task}/${subtask}` -> status, for the current attempt */
  readonly subtasks: Map<string, SubtaskStatus>;
  /** The subtasks of the attempt that failed last, shown while no new attempt runs. */
  failedAttemptSubtasks?: Map<string, SubtaskStatus>;
  readonly statusTimestamps: Partial<Record<JobStatus, number>>;
  /** The root cause of the latest failure. */
  failure?: JobFailure;
  /** Every failure, oldest first (bounded). */
  readonly exceptions: JobFailure[];
  /** Set when the restart strategy refused to restart. */
  restartExhausted?: string;
  restarts: number;
  readonly checkpointConfig: CheckpointConfig;
  readonly restartConfig: RestartStrategyConfig;
  readonly restartStrategy: RestartStrategy;
  readonly checkpoints: JobCheckpoints;
}

export const subtaskKey = (task: number, subtask: number): string => `${task}/${subtask}`;

/** The REST view of a job: one vertex per operator, with aggregated status and counts. */
export function jobView(job: Job, now: number) {
  // Between a failure and the next deployment (and after FAILED) show where the last attempt stood.
  const shown = job.subtasks.size === 0 && job.failedAttemptSubtasks ? job.failedAttemptSubtasks : job.subtasks;
  const vertices = job.description.nodes.map((n) => {
    const task = job.plan.tasks[job.plan.taskOfNode[n.id]!]!;
    const subtasks = [];
    let recordsIn = 0;
    let recordsOut = 0;
    const states: TaskState[] = [];
    for (let i = 0; i < task.parallelism; i++) {
      const s = shown.get(subtaskKey(task.id, i));
      const c = s?.counts[n.uid] ?? { in: 0, out: 0 };
      recordsIn += c.in;
      recordsOut += c.out;
      states.push(s?.state ?? 'DEPLOYING');
      subtasks.push({ subtask: i, status: s?.state ?? 'CREATED', worker: s?.workerId ?? null, recordsIn: c.in, recordsOut: c.out });
    }
    return {
      id: n.id,
      uid: n.uid,
      name: n.name,
      kind: n.kind,
      task: task.id,
      taskName: task.name,
      parallelism: n.parallelism,
      maxParallelism: n.maxParallelism,
      status: vertexStatus(states),
      recordsIn,
      recordsOut,
      inputs: n.inputs,
      subtasks,
    };
  });
  const end = job.endTime ?? now;
  return {
    id: job.id,
    name: job.description.name,
    version: job.description.version,
    state: job.status,
    attempt: job.attempt,
    submittedAt: job.submittedAt,
    startTime: job.startTime ?? null,
    endTime: job.endTime ?? null,
    duration: job.startTime ? end - job.startTime : 0,
    parallelism: job.parallelism,
    artifact: job.artifact,
    args: job.args,
    timestamps: job.statusTimestamps,
    failure: job.failure ?? null,
    restarts: job.restarts,
    restartStrategyExhausted: job.restartExhausted ?? null,
    fromSavepoint: job.fromSavepoint ?? null,
    lastSavepoint: job.lastSavepoint ?? null,
    vertices,
  };
}

/** A vertex's status from its subtasks' states. */
export function vertexStatus(states: readonly TaskState[]): TaskState {
  if (states.some((s) => s === 'FAILED')) return 'FAILED';
  if (states.every((s) => s === 'FINISHED')) return 'FINISHED';
  if (states.every((s) => s === 'CANCELED')) return 'CANCELED';
  if (states.some((s) => s === 'CANCELING')) return 'CANCELING';
  // RUNNING once no subtask is still restoring or deploying (some may have finished already).
  if (states.some((s) => s === 'DEPLOYING')) return 'DEPLOYING';
  if (states.some((s) => s === 'INITIALIZING')) return 'INITIALIZING';
  if (states.some((s) => s === 'RUNNING')) return 'RUNNING';
  // Only finished and canceled subtasks are left.
  return 'CANCELED';
}
