/**
 * Bookkeeping of one checkpoint in progress: which subtasks it still waits for and what the others
 * acknowledged with. Like Flink's PendingCheckpoint it answers an acknowledgement with an outcome
 * instead of throwing, because late and duplicate acks are normal in a distributed run.
 */
import type { SubtaskCheckpointStats } from '@weir/runtime';
import { CheckpointRecord } from './stats.js';

/** A subtask's acknowledgement of a checkpoint: its state handle and figures. */
export interface SubtaskAck<H> {
  readonly subtask: string;
  readonly handle: H;
  readonly stats: SubtaskCheckpointStats;
}

/** What one acknowledgement did to a pending checkpoint. */
export type PendingAckOutcome = 'ok' | 'duplicate' | 'unexpected';

export class PendingCheckpoint<H> {
  /** Figures for the stats history; outlives this object. */
  readonly record: CheckpointRecord;
  /** Set once every expected subtask acknowledged and the I/O was asked to write the metadata. */
  finalizing = false;
  private readonly waiting: Set<string>;
  private readonly acked = new Set<string>();
  private readonly acks: SubtaskAck<H>[] = [];

  constructor(
    readonly id: number,
    readonly timestamp: number,
    expected: Iterable<string>,
    /** Every subtask captures its whole state; the result is copied out as a savepoint. */
    readonly savepoint = false,
    /** A detached savepoint: written straight into the savepoint store, never one of the job's checkpoints. */
    readonly detached = false,
  ) {
    this.waiting = new Set(expected);
    this.record = new CheckpointRecord(id, timestamp, this.waiting.size, savepoint);
  }

  /** Record an acknowledgement; a subtask acks at most once and only if the checkpoint waits for it. */
  acknowledge(ack: SubtaskAck<H>, now: number): PendingAckOutcome {
    if (this.acked.has(ack.subtask)) return 'duplicate';
    if (!this.waiting.has(ack.subtask)) return 'unexpected';
    this.waiting.delete(ack.subtask);
    this.acked.add(ack.subtask);
    this.acks.push(ack);
    this.record.addAck(ack.subtask, now, ack.stats);
    return 'ok';
  }

  /** A subtask finished before acknowledging: stop waiting for it. Returns whether it was awaited. */
  stopWaitingFor(subtask: string): boolean {
    if (!this.waiting.delete(subtask)) return false;
    this.record.numSubtasks--;
    return true;
  }

  /** Whether `subtask` still has to acknowledge. */
  awaits(subtask: string): boolean {
    return this.waiting.has(subtask);
  }

  get fullyAcknowledged(): boolean {
    return this.waiting.size === 0;
  }

  /** The acknowledgements so far, in arrival order. */
  get acknowledgements(): readonly SubtaskAck<H>[] {
    return [...this.acks];
  }

  get numAcknowledged(): number {
    return this.acks.length;
  }

  get numSubtasks(): number {
    return this.record.numSubtasks;
  }
}
