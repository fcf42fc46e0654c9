/**
 * Checkpoint statistics as the REST API returns them, shaped like Flink's
 * `/jobs/:id/checkpoints`: counts, the latest completed/failed/restored, and a bounded history.
 */
import type { SubtaskCheckpointStats } from '@weir/runtime';

/** Why a checkpoint did not complete. */
/** TASK_FINISHED: a detached savepoint one of whose subtasks finished before it took its part (not counted as a failure). */
export type CheckpointFailureReason = 'TIMEOUT' | 'DECLINED' | 'SUBSUMED' | 'JOB_FAILOVER' | 'FINALIZE_FAILED' | 'STOPPED' | 'TASK_FINISHED';

export type CheckpointStatus = 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';

/** One subtask's acknowledgement in a checkpoint. */
export interface SubtaskCheckpointStatsView {
  readonly subtask: string;
  readonly ackTimestamp: number;
  readonly syncMs: number;
  readonly asyncMs: number;
  readonly alignmentMs: number;
  /** Trigger → the barrier reached the subtask, against the coordinator's clock (0 from older workers). */
  readonly startDelayMs: number;
  readonly stateBytes: number;
  readonly writtenBytes: number;
  /** Of writtenBytes, bytes packed ahead of the barrier (0 from older workers). */
  readonly packedAheadBytes: number;
}

/** One checkpoint in the history. Durations are maxima over subtasks (the slowest one bounds the checkpoint). */
export interface CheckpointStatsEntry {
  readonly id: number;
  readonly status: CheckpointStatus;
  /** Taken for a savepoint (full capture, copied out). */
  readonly isSavepoint: boolean;
  readonly triggerTimestamp: number;
  /** Time of the latest acknowledgement; null before the first. */
  readonly latestAckTimestamp: number | null;
  /** Completion (or failure) time minus trigger time; for a checkpoint in progress, now minus trigger time. */
  readonly endToEndDurationMs: number;
  readonly syncMs: number;
  readonly asyncMs: number;
  readonly alignmentMs: number;
  readonly startDelayMs: number;
  /** Sum of the subtasks' state sizes. */
  readonly stateBytes: number;
  /** Sum of the bytes the subtasks wrote for this checkpoint. */
  readonly checkpointedBytes: number;
  readonly numAcknowledged: number;
  readonly numSubtasks: number;
  readonly failureReason?: CheckpointFailureReason;
  readonly failureMessage?: string;
  /** In acknowledgement order. */
  readonly subtasks: readonly SubtaskCheckpointStatsView[];
}

/** What `GET /jobs/:id/checkpoints` returns. */
export interface CheckpointStatsView {
  readonly counts: { readonly triggered: number; readonly inProgress: number; readonly completed: number; readonly failed: number; readonly restored: number };
  readonly latest: {
    readonly completed: CheckpointStatsEntry | null;
    readonly failed: CheckpointStatsEntry | null;
    readonly restored: { readonly id: number; readonly time: number } | null;
  };
  /** Newest first, at most {@link HISTORY_SIZE} entries. */
  readonly history: readonly CheckpointStatsEntry[];
  /** Ids of the completed checkpoints still retained, ascending. */
  readonly retained: readonly number[];
}

/** Entries kept in the history (Flink's default web.checkpoints.history is 10; 50 costs little). */
export const HISTORY_SIZE = 50;

/** The figures of one checkpoint, kept after it ended for the history (without state handles). */
export class CheckpointRecord {
  status: CheckpointStatus = 'IN_PROGRESS';
  private endTimestamp: number | undefined;
  private failure: { reason: CheckpointFailureReason; message: string } | undefined;
  private readonly subtasks: SubtaskCheckpointStatsView[] = [];

  /** @param numSubtasks subtasks expected to acknowledge; lowered when one finishes before it acked. */
  constructor(
    readonly id: number,
    readonly triggerTimestamp: number,
    public numSubtasks: number,
    readonly savepoint = false,
  ) {}

  addAck(subtask: string, now: number, stats: SubtaskCheckpointStats): void {
    this.subtasks.push({ subtask, ackTimestamp: now, syncMs: stats.syncMs, asyncMs: stats.asyncMs, alignmentMs: stats.alignmentMs, startDelayMs: stats.startDelayMs ?? 0, stateBytes: stats.stateBytes, writtenBytes: stats.writtenBytes, packedAheadBytes: stats.packedAheadBytes ?? 0 });
  }

  complete(now: number): void {
    this.status = 'COMPLETED';
    this.endTimestamp = now;
  }

  fail(now: number, reason: CheckpointFailureReason, message: string): void {
    this.status = 'FAILED';
    this.endTimestamp = now;
    this.failure = { reason, message };
  }

  view(now: number): CheckpointStatsEntry {
    const max = (pick: (s: SubtaskCheckpointStatsView) => number) => this.subtasks.reduce((m, s) => Math.max(m, pick(s)), 0);
    const sum = (pick: (s: SubtaskCheckpointStatsView) => number) => this.subtasks.reduce((m, s) => m + pick(s), 0);
    return {
      id: this.id,
      status: this.status,
      isSavepoint: this.savepoint,
      triggerTimestamp: this.triggerTimestamp,
      latestAckTimestamp: this.subtasks.length === 0 ? null : max((s) => s.ackTimestamp),
      endToEndDurationMs: (this.endTimestamp ?? now) - this.triggerTimestamp,
      syncMs: max((s) => s.syncMs),
      asyncMs: max((s) => s.asyncMs),
      alignmentMs: max((s) => s.alignmentMs),
      startDelayMs: max((s) => s.startDelayMs),
      stateBytes: sum((s) => s.stateBytes),
      checkpointedBytes: sum((s) => s.writtenBytes),
      numAcknowledged: this.subtasks.length,
      numSubtasks: this.numSubtasks,
      ...(this.failure ? { failureReason: this.failure.reason, failureMessage: this.failure.message } : {}),
      subtasks: this.subtasks.map((s) => ({ ...s })),
    };
  }
}

/** Counts, latest entries and the bounded history of one job's checkpoints. */
export class CheckpointStatsTracker {
  private readonly history: CheckpointRecord[] = [];
  private triggered = 0;
  private completed = 0;
  private failed = 0;
  private restoredCount = 0;
  private latestCompleted: CheckpointRecord | undefined;
  private latestFailed: CheckpointRecord | undefined;
  private latestRestored: { id: number; time: number } | undefined;

  onTriggered(record: CheckpointRecord): void {
    this.triggered++;
    this.history.push(record);
    if (this.history.length > HISTORY_SIZE) this.history.shift();
  }

  onCompleted(record: CheckpointRecord): void {
    this.completed++;
    this.latestCompleted = record;
  }

  onFailed(record: CheckpointRecord): void {
    this.failed++;
    this.latestFailed = record;
  }

  onRestored(id: number, now: number): void {
    this.restoredCount++;
    this.latestRestored = { id, time: now };
  }

  view(now: number, inProgress: number, retained: readonly number[]): CheckpointStatsView {
    return {
      counts: { triggered: this.triggered, inProgress, completed: this.completed, failed: this.failed, restored: this.restoredCount },
      latest: {
        completed: this.latestCompleted?.view(now) ?? null,
        failed: this.latestFailed?.view(now) ?? null,
        restored: this.latestRestored ? { ...this.latestRestored } : null,
      },
      // Ids grow with trigger order, so the newest is the highest id.
      history: [...this.history].sort((a, b) => b.id - a.id).map((r) => r.view(now)),
      retained: [...retained],
    };
  }
}
