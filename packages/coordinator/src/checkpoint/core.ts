/**
 * The decision logic of checkpointing for one job, without I/O: when to trigger, when a checkpoint
 * is complete, what to abort, which completed checkpoints to drop, when failures fail the job.
 * Every method takes the current time and returns commands for the I/O layer to carry out, so the
 * whole protocol runs deterministically in unit tests. Modelled on Flink's CheckpointCoordinator,
 * CheckpointRequestDecider and CheckpointFailureManager.
 */
import { WeirError, type CheckpointConfig } from '@weir/sdk';
import type { SubtaskSnapshot } from '@weir/runtime';
import { PendingCheckpoint, type SubtaskAck } from './pending.js';
import { CheckpointStatsTracker, type CheckpointFailureReason, type CheckpointStatsView } from './stats.js';

export type { SubtaskAck } from './pending.js';
export type { CheckpointFailureReason } from './stats.js';

/** What the I/O layer must do. Commands of one call are to be carried out in order. */
export type CheckpointCommand<H> =
  /** Send a trigger (inject a barrier) to these source subtasks; `savepoint`: full captures; `detached`: into a savepoint only. */
  | { readonly type: 'trigger'; readonly id: number; readonly timestamp: number; readonly subtasks: readonly string[]; readonly savepoint: boolean; readonly detached: boolean }
  /**
   * All expected subtasks acknowledged: write the metadata (and for a savepoint, copy it out; for a
   * detached one, record the savepoint instead of a checkpoint), then call `finalized()`.
   */
  | { readonly type: 'finalize'; readonly id: number; readonly timestamp: number; readonly acks: readonly SubtaskAck<H>[]; readonly savepoint: boolean; readonly detached: boolean }
  /** Tell every subtask that the checkpoint completed (sinks commit). */
  | { readonly type: 'notify-complete'; readonly id: number }
  /** Tell subtasks to drop the checkpoint; its blobs are garbage unless a completed checkpoint shares them. */
  | { readonly type: 'abort'; readonly id: number; readonly reason: CheckpointFailureReason; readonly message: string }
  /** Completed checkpoints no longer retained: delete their metadata and unshared blobs. */
  | { readonly type: 'discard'; readonly ids: readonly number[] }
  /** More consecutive checkpoint failures than tolerated: fail the job attempt over. */
  | { readonly type: 'fail-job'; readonly message: string };

/** Where a new core starts; after a restore the I/O passes what the store holds. */
export interface CheckpointCoordinatorCoreOptions {
  readonly now: number;
  /** First id to use (restored id + 1 after a restore). Default 1. */
  readonly nextId?: number;
  /** Ids of completed checkpoints still stored. */
  readonly retained?: readonly number[];
}

export type TriggerResult<H> =
  | { readonly result: 'triggered'; readonly id: number; readonly commands: CheckpointCommand<H>[] }
  | { readonly result: 'rejected'; readonly reason: string; readonly commands: [] };

/**
 * `late`: the checkpoint already completed or was aborted (its handle's blobs are garbage);
 * `unknown`: never triggered; `unexpected`: the checkpoint does not wait for that subtask.
 */
export type AckResultKind = 'ok' | 'unknown' | 'duplicate' | 'late' | 'unexpected';

export interface AckResult<H> {
  readonly result: AckResultKind;
  readonly commands: CheckpointCommand<H>[];
}

/** Failures that say something about the job's health; the others are consequences of other events. */
const COUNTED_FAILURES: ReadonlySet<CheckpointFailureReason> = new Set(['TIMEOUT', 'DECLINED', 'FINALIZE_FAILED']);

/**
 * Checkpoint coordination of one job. `H` is the state handle subtasks acknowledge with.
 *
 * Lifecycle: `start()` for each attempt, then `tick()` regularly plus the event methods;
 * `abortAll()` when the attempt ends. Ids strictly increase across attempts and restores.
 */
export class CheckpointCoordinatorCore<H = SubtaskSnapshot> {
  private nextId: number;
  private retained: number[];
  private started = false;
  /** A fail-job command went out in this attempt: send it once, trigger nothing more. */
  private failing = false;
  private expected = new Set<string>();
  private sources = new Set<string>();
  /** Expected subtasks whose inputs all ended (they wait for a final checkpoint). */
  private readonly inputsEnded = new Set<string>();
  private lastPeriodicTrigger: number;
  private lastCompletion = Number.NEGATIVE_INFINITY;
  private consecutiveFailures = 0;
  private readonly pending = new Map<number, PendingCheckpoint<H>>();
  /** Aborted while their metadata was being written: if that write still succeeds, the metadata must be discarded. */
  private readonly abortedWhileFinalizing = new Set<number>();
  private readonly tracker = new CheckpointStatsTracker();

  constructor(
    private readonly config: CheckpointConfig,
    opts: CheckpointCoordinatorCoreOptions,
  ) {
    this.retained = [...new Set(opts.retained ?? [])].sort((a, b) => a - b);
    // Never reuse an id a stored checkpoint has, whatever nextId says.
    this.nextId = Math.max(opts.nextId ?? 1, (this.retained.at(-1) ?? 0) + 1);
    this.lastPeriodicTrigger = opts.now;
  }

  /**
   * A new attempt runs: `expected` subtasks must acknowledge each checkpoint, `sources` receive
   * triggers (a source is expected too). The periodic timer restarts from `now`.
   * @throws WeirError `WEIR_INTERNAL` if checkpoints of the previous attempt are still pending (call abortAll first).
   */
  start(expected: readonly string[], sources: readonly string[], now: number): void {
    if (this.pending.size > 0) throw new WeirError('WEIR_INTERNAL', `checkpoint coordinator started with ${this.pending.size} checkpoints pending; abortAll() must end the previous attempt`);
    this.started = true;
    this.failing = false;
    // A new attempt gets a fresh failure budget; otherwise one failure after a restart would fail it again.
    this.consecutiveFailures = 0;
    this.expected = new Set([...expected, ...sources]);
    this.sources = new Set(sources);
    this.inputsEnded.clear();
    this.lastPeriodicTrigger = now;
  }

  /** Every running subtask reported that its inputs ended (a drain is complete). */
  get allInputsEnded(): boolean {
    for (const s of this.expected) if (!this.inputsEnded.has(s)) return false;
    return true;
  }

  /** A subtask finished: new checkpoints do not expect it; pending ones stop waiting for it (which may complete them). */
  subtaskFinished(subtask: string, now: number): CheckpointCommand<H>[] {
    this.expected.delete(subtask);
    this.sources.delete(subtask);
    this.inputsEnded.delete(subtask);
    const commands: CheckpointCommand<H>[] = [];
    for (const p of [...this.pending.values()]) {
      // A detached savepoint is made of its acks alone: nothing carries over the finished subtask's
      // part (its source position, its state), so it would resume that share from the start.
      if (p.detached && p.awaits(subtask) && !p.finalizing) {
        this.fail(p, 'TASK_FINISHED', `savepoint ${p.id}: subtask ${subtask} finished before it took its part; to keep the state of a job that is ending, stop it with --savepoint --drain`, now, commands);
        continue;
      }
      if (p.stopWaitingFor(subtask)) this.finalizeIfComplete(p, commands);
    }
    return commands;
  }

  /**
   * A subtask's inputs all ended but it still runs: it waits for a checkpoint to commit its last
   * output (transactional sinks), so it is triggered directly from now on, like a source. Pending
   * checkpoints it has not acknowledged are triggered for it at once: their barriers can no longer
   * reach it through its inputs.
   */
  subtaskInputsEnded(subtask: string): CheckpointCommand<H>[] {
    if (!this.expected.has(subtask)) return [];
    this.sources.add(subtask);
    this.inputsEnded.add(subtask);
    const commands: CheckpointCommand<H>[] = [];
    for (const p of this.pending.values()) {
      if (!p.finalizing && p.awaits(subtask)) commands.push({ type: 'trigger', id: p.id, timestamp: p.timestamp, subtasks: [subtask], savepoint: p.savepoint, detached: p.detached });
    }
    return commands;
  }

  /** Expire checkpoints past the timeout, then trigger a periodic checkpoint if one is due. */
  tick(now: number): CheckpointCommand<H>[] {
    const commands: CheckpointCommand<H>[] = [];
    for (const p of [...this.pending.values()]) {
      // A finalizing checkpoint is the I/O's: it reports the outcome through finalized().
      if (!p.finalizing && now - p.timestamp >= this.config.timeoutMs) {
        const message = `checkpoint ${p.id} expired after ${this.config.timeoutMs} ms (${p.numAcknowledged}/${p.numSubtasks} subtasks acknowledged)`;
        this.fail(p, 'TIMEOUT', message, now, commands);
      }
    }
    if (this.periodicTriggerDue(now)) {
      this.lastPeriodicTrigger = now;
      commands.push(this.triggerCheckpoint(now, false).command);
    }
    return commands;
  }

  /**
   * A manual checkpoint, or a savepoint (every subtask captures its whole state): ignores interval,
   * minimum pause and maxConcurrent, but needs a started attempt with a running source. A
   * `detached` savepoint completes without becoming a checkpoint of the job: nothing is subsumed,
   * retained or notified (Flink's savepoints since 1.15: no side effects are committed for it).
   */
  trigger(now: number, opts: { readonly savepoint?: boolean; readonly detached?: boolean } = {}): TriggerResult<H> {
    const refusal = this.triggerRefusal();
    if (refusal !== undefined) return { result: 'rejected', reason: refusal, commands: [] };
    const { id, command } = this.triggerCheckpoint(now, opts.savepoint === true || opts.detached === true, opts.detached === true);
    return { result: 'triggered', id, commands: [command] };
  }

  /** A subtask acknowledged checkpoint `id`. The last expected acknowledgement yields one `finalize` command. */
  acknowledge(id: number, ack: SubtaskAck<H>, now: number): AckResult<H> {
    const p = this.pending.get(id);
    if (p === undefined) return { result: this.isPast(id) ? 'late' : 'unknown', commands: [] };
    const outcome = p.acknowledge(ack, now);
    const commands: CheckpointCommand<H>[] = [];
    if (outcome === 'ok') this.finalizeIfComplete(p, commands);
    return { result: outcome, commands };
  }

  /** A subtask could not take its part of checkpoint `id`: the checkpoint is aborted (DECLINED). */
  decline(id: number, subtask: string, message: string, now: number): CheckpointCommand<H>[] {
    const p = this.pending.get(id);
    // A decline from a subtask the checkpoint no longer waits for changes nothing.
    if (p === undefined || !p.awaits(subtask)) return [];
    const commands: CheckpointCommand<H>[] = [];
    this.fail(p, 'DECLINED', `checkpoint ${id} declined by ${subtask}: ${message}`, now, commands);
    return commands;
  }

  /**
   * The I/O wrote (or failed to write, `error`) the metadata of checkpoint `id`. On success the
   * checkpoint completes: older pending ones are subsumed, retained ones beyond `retained` are
   * discarded, subtasks are notified. If the attempt was aborted meanwhile, a successful write
   * still makes it a completed checkpoint, retained: once written it is the latest, and the next
   * attempt may already be restoring from it (discarding it deleted the state under that attempt).
   */
  finalized(id: number, now: number, error?: string): CheckpointCommand<H>[] {
    const p = this.pending.get(id);
    if (p === undefined) {
      const wasFinalizing = this.abortedWhileFinalizing.delete(id);
      return wasFinalizing && error === undefined ? this.retain(id) : [];
    }
    if (!p.finalizing) return [];
    const commands: CheckpointCommand<H>[] = [];
    if (error !== undefined) {
      // The metadata write failed (a failure after it is reported as a success), so no metadata
      // exists that a later discard would have to remove.
      p.finalizing = false;
      this.fail(p, 'FINALIZE_FAILED', `checkpoint ${id} could not be stored: ${error}`, now, commands);
      return commands;
    }
    this.pending.delete(id);
    p.record.complete(now);
    this.tracker.onCompleted(p.record);
    // A detached savepoint is not part of the job's checkpoint chain: nothing else changes.
    if (p.detached) return commands;
    this.lastCompletion = now;
    this.consecutiveFailures = 0;
    // A pending savepoint is not subsumed: someone waits for exactly that one.
    for (const older of [...this.pending.values()].filter((o) => o.id < id && !o.savepoint)) {
      this.fail(older, 'SUBSUMED', `checkpoint ${older.id} subsumed by completed checkpoint ${id}`, now, commands);
    }
    commands.push(...this.retain(id), { type: 'notify-complete', id });
    return commands;
  }

  /** Checkpoint `id` is retained; those beyond `retained` (the oldest) are discarded. */
  private retain(id: number): CheckpointCommand<H>[] {
    this.retained.push(id);
    this.retained.sort((a, b) => a - b);
    const excess = this.retained.length - this.config.retained;
    return excess > 0 ? [{ type: 'discard', ids: this.retained.splice(0, excess) }] : [];
  }

  /** The attempt ends (failover or stop): abort every pending checkpoint; nothing triggers until the next start(). */
  abortAll(reason: Extract<CheckpointFailureReason, 'JOB_FAILOVER' | 'STOPPED'>, message: string, now: number): CheckpointCommand<H>[] {
    const commands: CheckpointCommand<H>[] = [];
    for (const p of [...this.pending.values()].sort((a, b) => a.id - b.id)) this.fail(p, reason, message, now, commands);
    this.started = false;
    this.expected.clear();
    this.sources.clear();
    this.inputsEnded.clear();
    return commands;
  }

  /** The job was restored from checkpoint `id` (counted in the stats). */
  restored(id: number, now: number): void {
    this.tracker.onRestored(id, now);
    this.nextId = Math.max(this.nextId, id + 1);
  }

  /** Counts, latest checkpoints, history and retained ids, for the REST API. */
  stats(now: number): CheckpointStatsView {
    return this.tracker.view(now, this.pending.size, this.retained);
  }

  private triggerRefusal(): string | undefined {
    if (!this.started) return 'the job attempt is not running';
    if (this.failing) return 'the job attempt is failing over (too many checkpoint failures)';
    if (this.sources.size === 0) return 'no source subtask is running';
    return undefined;
  }

  private periodicTriggerDue(now: number): boolean {
    const c = this.config;
    return (
      c.intervalMs > 0 &&
      this.triggerRefusal() === undefined &&
      this.pending.size < c.maxConcurrent &&
      now >= this.lastPeriodicTrigger + c.intervalMs &&
      now >= this.lastCompletion + c.minPauseMs
    );
  }

  private triggerCheckpoint(now: number, savepoint: boolean, detached = false): { id: number; command: CheckpointCommand<H> } {
    const id = this.nextId++;
    const p = new PendingCheckpoint<H>(id, now, this.expected, savepoint, detached);
    this.pending.set(id, p);
    this.tracker.onTriggered(p.record);
    return { id, command: { type: 'trigger', id, timestamp: now, subtasks: [...this.sources], savepoint, detached } };
  }

  private finalizeIfComplete(p: PendingCheckpoint<H>, commands: CheckpointCommand<H>[]): void {
    // Once fully acknowledged nothing more is awaited, so this runs once per checkpoint.
    if (!p.fullyAcknowledged) return;
    p.finalizing = true;
    commands.push({ type: 'finalize', id: p.id, timestamp: p.timestamp, acks: p.acknowledgements, savepoint: p.savepoint, detached: p.detached });
  }

  /** Ids below nextId were triggered once (by this core or before a restore) and have ended if not pending. */
  private isPast(id: number): boolean {
    return Number.isInteger(id) && id >= 1 && id < this.nextId;
  }

  private fail(p: PendingCheckpoint<H>, reason: CheckpointFailureReason, message: string, now: number, commands: CheckpointCommand<H>[]): void {
    this.pending.delete(p.id);
    // A detached savepoint that completes after all is no checkpoint of the job: never retained.
    if (p.finalizing && !p.detached) this.abortedWhileFinalizing.add(p.id);
    p.record.fail(now, reason, message);
    this.tracker.onFailed(p.record);
    commands.push({ type: 'abort', id: p.id, reason, message });
    // A savepoint that fails fails its request only, as in Flink: the job's checkpoints are what
    // the tolerated failures guard, and a failed savepoint is not one of them.
    if (!COUNTED_FAILURES.has(reason) || p.savepoint) return;
    this.consecutiveFailures++;
    if (this.consecutiveFailures > this.config.tolerableFailures && this.started && !this.failing) {
      this.failing = true;
      commands.push({
        type: 'fail-job',
        message: `${this.consecutiveFailures} consecutive checkpoint failures exceed the ${this.config.tolerableFailures} tolerated (last: ${message})`,
      });
    }
  }
}
