import type { ActorSystem } from '@weir/actors';
import { crashPoint, newSavepointId, possibleSavepointNames, subjects, type CheckpointAck, type SavepointJobInfo, type CheckpointDecline, type CompletedCheckpoint, type SavepointMetadata, type SavepointReason, type SavepointStore, type SnapshotStore, type SubtaskSnapshot, type WorkerMessage } from '@weir/runtime';
import { WeirError, type CheckpointConfig } from '@weir/sdk';
import type { Logger } from 'pino';
import { buildCompletedCheckpoint, CheckpointCoordinatorCore, unreferencedBlobs, type CheckpointCommand } from './checkpoint/index.js';
import { JobBlobHolds, reportedBytes, savepointReferences } from './savepoints/index.js';
import { subtaskKey, type Job } from './job.js';

/** Detached savepoints this process has come to record, for the `before-savepoint-record` crash point. */
let savepointsRecorded = 0;
export interface JobCheckpointsSetup {
  readonly job: Job;
  readonly config: CheckpointConfig;
  readonly store: SnapshotStore;
  readonly savepoints: SavepointStore;
  /** The checkpoint the job starts from (a materialized savepoint): retained, and ids continue after it. */
  readonly initial?: CompletedCheckpoint;
  readonly system: ActorSystem;
  readonly log: Logger;
  readonly now: () => number;
  /** Too many consecutive checkpoint failures: fail the attempt over. */
  failJob(message: string): void;
}

/** What a savepoint request waits for. `copyOut` false: a stop's final checkpoint that is not kept. */
interface SavepointRequest {
  readonly reason: SavepointReason;
  readonly stopSources: boolean;
  readonly copyOut: boolean;
  /** A detached savepoint: the id the workers write it under. */
  readonly target?: string;
  resolve(meta: SavepointMetadata | undefined): void;
  reject(e: Error): void;
}

/**
 * The I/O around one job's CheckpointCoordinatorCore: sends triggers and completion notices to
 * workers, writes completed checkpoints to the snapshot store, deletes what no retained checkpoint
 * needs. Triggers go out at once, in id order; the other commands are carried out one at a time,
 * in order (a detached savepoint's finalize beside them).
 */
export class JobCheckpoints {
  readonly core: CheckpointCoordinatorCore<SubtaskSnapshot>;
  /** Savepoints in progress by checkpoint id. */
  private readonly requests = new Map<number, SavepointRequest>();
  /** A drain in progress: once every subtask's input ended, this savepoint is triggered. */
  private drain: { request: Omit<SavepointRequest, 'stopSources'>; timer: NodeJS.Timeout } | undefined;
  /** Retained completed checkpoints, oldest first. */
  private readonly completed = new Map<number, CompletedCheckpoint>();
  private queue: Promise<void> = Promise.resolve();
  /** Subtasks of the attempt being deployed whose inputs ended before it ran (startAttempt applies them). */
  private readonly endedEarly = new Set<string>();
  /** Finalizes of detached savepoints, which run beside the queue. */
  private readonly detachedFinalizes = new Set<Promise<void>>();
  /** Checkpoint ids of detached savepoints being recorded. */
  private readonly finalizingDetached = new Set<number>();
  /** The job's blobs held for detached savepoints that may refer to them. */
  readonly holds: JobBlobHolds;
  private readonly log: Logger;

  constructor(private readonly s: JobCheckpointsSetup) {
    const initial = s.initial;
    this.core = new CheckpointCoordinatorCore<SubtaskSnapshot>(s.config, { now: s.now(), ...(initial ? { retained: [initial.id], nextId: initial.id + 1 } : {}) });
    if (initial) this.completed.set(initial.id, initial);
    this.log = s.log.child({ job: s.job.id });
    this.holds = new JobBlobHolds({
      savepoints: s.savepoints,
      log: this.log,
      deleteBlobs: (names) => (this.queue = this.queue.then(() => s.store.deleteBlobs(s.job.id, names).catch((e: unknown) => this.log.warn({ err: e, blobs: names.length }, 'could not delete blobs no checkpoint needs')))),
      enqueue: (fn) => (this.queue = this.queue.then(fn)),
    });
  }

  /**
   * Take a savepoint. Of a job that runs on (`stopSources` false, kept): a detached savepoint, which
   * the workers write straight into the savepoint store and which never becomes one of the job's
   * checkpoints, so no sink commits for it and the incremental chains go on untouched (Flink's
   * savepoints since 1.15). Of a stop: a checkpoint in which every subtask captures its whole
   * state, copied out to the savepoint store once complete (sinks commit it: the job ends there).
   * `copyOut` false: only the final checkpoint of a stop without savepoint. Rejects with a typed
   * error if it cannot be triggered or does not complete.
   */
  async savepoint(opts: { readonly reason: SavepointReason; readonly stopSources: boolean; readonly copyOut?: boolean }): Promise<SavepointMetadata | undefined> {
    const copyOut = opts.copyOut !== false;
    const { job } = this.s;
    // State of finished subtasks lives only in the job's checkpoints: such a savepoint is copied out.
    const detached = copyOut && !opts.stopSources && [...job.subtasks.values()].every((s) => s.state !== 'FINISHED');
    let target: string | undefined;
    if (detached) {
      const attempt = job.attempt;
      target = newSavepointId();
      // From before the workers capture: the savepoint may refer to any blob of the chains they hold.
      this.holds.hold(target);
      // Awaited: the workers' writes go over connections of their own, and one that came before
      // the fence would be refused. A failed prepare may still have set the fence (a lost reply):
      // abandoned, so nothing of it is left.
      await this.s.savepoints.prepare(target, attempt).catch(async (e: unknown) => {
        await this.abandon(target!);
        throw e;
      });
      if (job.attempt !== attempt) {
        await this.abandon(target);
        throw new WeirError('WEIR_SAVEPOINT_TRIGGER_REJECTED', `job ${job.id}: cannot take a savepoint now: the job attempt changed while it was being prepared`);
      }
    }
    return new Promise((resolve, reject) => {
      // Full and never subsumed even when not kept: the stop waits for exactly this snapshot.
      const r = this.core.trigger(this.s.now(), { savepoint: true, detached });
      if (r.result === 'rejected') {
        if (target) void this.abandon(target);
        reject(new WeirError('WEIR_SAVEPOINT_TRIGGER_REJECTED', `job ${job.id}: cannot take a savepoint now: ${r.reason}`));
        return;
      }
      this.requests.set(r.id, { reason: opts.reason, stopSources: opts.stopSources, copyOut, ...(target ? { target } : {}), resolve, reject });
      this.run(r.commands);
    });
  }

  /**
   * A snapshot that carries finished subtasks' state over from the job's checkpoints needs them to
   * hold it: with checkpoints on, a subtask finishes only after a final checkpoint took its final
   * state. With checkpoints off it finishes at once and no checkpoint has it, so a savepoint would
   * resume its share from a stale position or from the start: refused, before anything stops.
   * Checked by the operations before they start (job-control.ts), so a refusal stops nothing.
   * @throws WeirError WEIR_SAVEPOINT_TRIGGER_REJECTED naming a finished subtask.
   */
  assertFinishedStateKept(): void {
    if (this.s.config.intervalMs > 0) return;
    const { job } = this.s;
    const finished = [...job.subtasks.entries()].find(([, s]) => s.state === 'FINISHED');
    if (!finished) return;
    const [task, subtask] = finished[0].split('/').map(Number) as [number, number];
    const uid = job.description.nodes[job.plan.tasks[task]!.head]!.uid;
    throw new WeirError('WEIR_SAVEPOINT_TRIGGER_REJECTED', `job ${job.id}: subtask ${subtask} of '${uid}' has finished and checkpoints are off, so no checkpoint holds its final state and a savepoint would read its share again; turn checkpoints on (checkpoints.intervalMs > 0) to stop or rescale a job whose parts end`);
  }

  /** Close a detached savepoint that will not complete and delete what its workers wrote. */
  private async abandon(target: string): Promise<void> {
    await this.s.savepoints.abandon(target, possibleSavepointNames(this.s.job.description.nodes)).catch((e: unknown) => this.log.warn({ err: e, savepoint: target }, 'abandoned savepoint not cleaned up'));
    this.holds.release(target);
  }

  /**
   * Stop with drain: sources end their input, every task ends its input (timers fire) and waits;
   * once all did, the savepoint is taken. Bounded by the checkpoint timeout.
   */
  drainThenSavepoint(opts: { readonly reason: SavepointReason; readonly copyOut?: boolean }): Promise<SavepointMetadata | undefined> {
    const { job } = this.s;
    return new Promise((resolve, reject) => {
      if (this.drain) return reject(new WeirError('WEIR_SAVEPOINT_TRIGGER_REJECTED', `job ${job.id} is already draining`));
      const timer = setTimeout(() => {
        this.drain = undefined;
        reject(new WeirError('WEIR_SAVEPOINT_TIMEOUT', `job ${job.id}: the drain did not end within ${this.s.config.timeoutMs} ms (checkpoints.timeoutMs); some operator's input never ended`));
      }, this.s.config.timeoutMs);
      timer.unref();
      this.drain = { request: { reason: opts.reason, copyOut: opts.copyOut !== false, resolve, reject }, timer };
      const workers = new Set([...job.subtasks.values()].map((s) => s.workerId));
      for (const w of workers) this.s.system.ref<WorkerMessage>(subjects.worker(w)).tell({ type: 'drain', jobId: job.id, attempt: job.attempt });
      this.maybeFinishDrain();
    });
  }

  private maybeFinishDrain(): void {
    const d = this.drain;
    if (!d || !this.core.allInputsEnded) return;
    this.drain = undefined;
    clearTimeout(d.timer);
    const r = this.core.trigger(this.s.now(), { savepoint: true });
    if (r.result === 'rejected') {
      d.request.reject(new WeirError('WEIR_SAVEPOINT_TRIGGER_REJECTED', `job ${this.s.job.id}: cannot take the savepoint after the drain: ${r.reason}`));
      return;
    }
    this.requests.set(r.id, { ...d.request, stopSources: false });
    this.run(r.commands);
  }

  get latest(): CompletedCheckpoint | undefined {
    let latest: CompletedCheckpoint | undefined;
    for (const c of this.completed.values()) if (!latest || c.id > latest.id) latest = c;
    return latest;
  }

  /** The attempt's tasks are all deployed: checkpoints may start. */
  startAttempt(): void {
    const { job } = this.s;
    const expected = [...job.subtasks.keys()].filter((k) => job.subtasks.get(k)!.state !== 'FINISHED');
    const sources = expected.filter((k) => job.description.nodes[job.plan.tasks[Number(k.split('/')[0])]!.head]!.kind === 'source');
    this.core.start(expected, sources, this.s.now());
    const early = [...this.endedEarly];
    this.endedEarly.clear();
    for (const key of early) {
      const [task, subtask] = key.split('/').map(Number) as [number, number];
      if (job.subtasks.get(key)?.state !== 'FINISHED') this.onInputsEnded(task, subtask);
    }
  }

  /** A subtask of the attempt being deployed reported its inputs ended: applied once it runs. */
  inputsEndedEarly(task: number, subtask: number): void {
    this.endedEarly.add(subtaskKey(task, subtask));
  }

  tick(): void {
    this.run(this.core.tick(this.s.now()));
  }

  onAck(m: CheckpointAck): void {
    const r = this.core.acknowledge(m.checkpointId, { subtask: subtaskKey(m.task, m.subtask), handle: m.snapshot, stats: m.stats }, this.s.now());
    if (r.result !== 'ok') this.log.debug({ checkpoint: m.checkpointId, task: m.task, subtask: m.subtask, result: r.result }, 'acknowledgement not used');
    this.run(r.commands);
  }

  onDecline(m: CheckpointDecline): void {
    this.log.warn({ checkpoint: m.checkpointId, task: m.task, subtask: m.subtask, reason: m.reason }, 'checkpoint declined');
    this.run(this.core.decline(m.checkpointId, subtaskKey(m.task, m.subtask), m.reason, this.s.now()));
  }

  /** The subtask waits for a checkpoint to commit its last output: trigger it directly, and soon. */
  onInputsEnded(task: number, subtask: number): void {
    this.run(this.core.subtaskInputsEnded(subtaskKey(task, subtask)));
    if (this.drain) return this.maybeFinishDrain();
    // A bounded job should not wait a whole interval to end.
    if (this.core.stats(this.s.now()).counts.inProgress === 0) {
      const r = this.core.trigger(this.s.now());
      this.run(r.commands);
    }
  }

  onTaskFinished(task: number, subtask: number): void {
    this.run(this.core.subtaskFinished(subtaskKey(task, subtask), this.s.now()));
    this.maybeFinishDrain();
  }

  /** The attempt is failing over or stopping: pending checkpoints are aborted. */
  abortAll(reason: 'JOB_FAILOVER' | 'STOPPED', message: string): void {
    this.endedEarly.clear();
    this.run(this.core.abortAll(reason, message, this.s.now()));
    if (this.drain) {
      clearTimeout(this.drain.timer);
      this.drain.request.reject(new WeirError('WEIR_SAVEPOINT_FAILED', `job ${this.s.job.id}: ${message}`));
      this.drain = undefined;
    }
  }

  restored(id: number): void {
    this.core.restored(id, this.s.now());
  }

  /** Resolves when every command issued so far has been carried out. */
  async idle(): Promise<void> {
    await Promise.all([this.queue, ...this.detachedFinalizes]);
  }

  private run(commands: readonly CheckpointCommand<SubtaskSnapshot>[]): void {
    if (commands.length === 0) return;
    const queued: CheckpointCommand<SubtaskSnapshot>[] = [];
    for (const c of commands) {
      // Triggers go out at once, in the order the core made them (ascending ids: a source drops a
      // barrier older than one it has seen). Nothing in the queue must precede them: it writes and
      // deletes completed checkpoints (tens of ms under load) and tells workers of completions,
      // which may come after the next barrier as they may over NATS anyway.
      if (c.type === 'trigger') this.sendTrigger(c);
      // A detached savepoint's finalize touches only the savepoint store: nothing waits for it.
      else if (c.type === 'finalize' && c.detached) {
        const done = this.execute(c).catch((e: unknown) => this.log.error({ err: e, command: c.type }, 'checkpoint command failed'));
        this.detachedFinalizes.add(done);
        void done.finally(() => this.detachedFinalizes.delete(done));
      } else queued.push(c);
    }
    if (queued.length === 0) return;
    this.queue = this.queue.then(async () => {
      for (const c of queued) {
        try {
          await this.execute(c);
        } catch (e) {
          this.log.error({ err: e, command: c.type }, 'checkpoint command failed');
        }
      }
    });
  }

  private sendTrigger(c: Extract<CheckpointCommand<SubtaskSnapshot>, { type: 'trigger' }>): void {
    const { job } = this.s;
    const byWorker = new Map<string, { task: number; subtask: number }[]>();
    for (const key of c.subtasks) {
      const s = job.subtasks.get(key);
      if (!s) continue;
      const [task, subtask] = key.split('/').map(Number) as [number, number];
      byWorker.set(s.workerId, [...(byWorker.get(s.workerId) ?? []), { task, subtask }]);
    }
    const request = this.requests.get(c.id);
    const target = c.detached ? request?.target : undefined;
    for (const [w, subtasks] of byWorker) {
      const stopSources = request?.stopSources === true;
      this.s.system.ref<WorkerMessage>(subjects.worker(w)).tell({ type: 'trigger-checkpoint', jobId: job.id, attempt: job.attempt, checkpointId: c.id, timestamp: c.timestamp, subtasks, savepoint: c.savepoint, stopSources, ...(target ? { savepointTarget: target } : {}) });
    }
    this.log.debug({ checkpoint: c.id }, 'checkpoint triggered');
  }

  private async execute(c: CheckpointCommand<SubtaskSnapshot>): Promise<void> {
    const { job } = this.s;
    switch (c.type) {
      case 'trigger':
        return this.sendTrigger(c);
      case 'finalize': {
        if (c.detached) return this.finalizeDetached(c);
        let error: string | undefined;
        let committed = false;
        const request = this.requests.get(c.id);
        let savepoint: SavepointMetadata | undefined;
        try {
          const checkpoint = this.assemble(c.id, c.timestamp, c.acks);
          await this.s.store.commitCheckpoint(job.id, job.attempt, checkpoint);
          committed = true;
          this.completed.set(c.id, checkpoint);
          this.log.info({ checkpoint: c.id, ms: checkpoint.completedAt - checkpoint.timestamp, writtenBytes: checkpoint.writtenBytes, stateBytes: checkpoint.stateBytes }, 'checkpoint completed');
          // Copied out before the completion is announced: a stop ends the job (and deletes its checkpoints) only after.
          if (request?.copyOut) savepoint = await this.copyOut(checkpoint, request.reason);
        } catch (e) {
          error = (e as Error).message;
        }
        // A copy-out that failed after the commit leaves a committed checkpoint, the latest: it is
        // completed all the same (retained, announced); only the savepoint request fails.
        this.run(this.core.finalized(c.id, this.s.now(), committed ? undefined : error));
        if (request && (error === undefined || committed)) {
          this.requests.delete(c.id);
          if (error === undefined) request.resolve(savepoint);
          else request.reject(new WeirError('WEIR_SAVEPOINT_FAILED', `savepoint (checkpoint ${c.id}) of job ${job.id} failed: the checkpoint completed, but copying it into the savepoint store failed: ${error}`));
        }
        return;
      }
      case 'notify-complete': {
        const workers = new Set([...job.subtasks.values()].map((s) => s.workerId));
        for (const w of workers) this.s.system.ref<WorkerMessage>(subjects.worker(w)).tell({ type: 'checkpoint-complete', jobId: job.id, attempt: job.attempt, checkpointId: c.id });
        return;
      }
      case 'abort': {
        const request = this.requests.get(c.id);
        // A detached savepoint being recorded is settled by its finalize: an abandon now could delete
        // the blobs of a savepoint whose metadata is about to be stored.
        if (request && !this.finalizingDetached.has(c.id)) {
          this.requests.delete(c.id);
          if (request.target) await this.abandon(request.target);
          request.reject(new WeirError(c.reason === 'TIMEOUT' ? 'WEIR_SAVEPOINT_TIMEOUT' : 'WEIR_SAVEPOINT_FAILED', `savepoint (checkpoint ${c.id}) of job ${job.id} failed: ${c.reason}: ${c.message}`));
        }
        // Aborts because the job stops or a newer checkpoint completed are routine.
        if (c.reason === 'STOPPED' || c.reason === 'SUBSUMED' || c.reason === 'JOB_FAILOVER') this.log.debug({ checkpoint: c.id, reason: c.reason }, 'checkpoint aborted');
        else this.log.warn({ checkpoint: c.id, reason: c.reason, message: c.message }, 'checkpoint aborted');
        return;
      }
      case 'discard': {
        const dropped = c.ids.map((id) => this.completed.get(id)).filter((x): x is CompletedCheckpoint => x !== undefined);
        for (const id of c.ids) this.completed.delete(id);
        // Deltas are shared by consecutive checkpoints: delete only what no retained one names.
        const garbage = unreferencedBlobs(dropped, [...this.completed.values()]);
        await this.s.store.removeCheckpoints(job.id, c.ids);
        await this.s.store.deleteBlobs(job.id, this.holds.deletable(garbage));
        return;
      }
      case 'fail-job':
        this.s.failJob(c.message);
        return;
    }
  }

  /**
   * The finalize of a detached savepoint (beside the queue): record it, then settle its request.
   * On failure whatever was written is deleted (abandon is idempotent).
   */
  private async finalizeDetached(c: Extract<CheckpointCommand<SubtaskSnapshot>, { type: 'finalize' }>): Promise<void> {
    const request = this.requests.get(c.id);
    let savepoint: SavepointMetadata | undefined;
    let error: Error | undefined;
    /** The store could not say whether it recorded the savepoint: nothing may be deleted yet. */
    let unknown = false;
    this.finalizingDetached.add(c.id);
    try {
      savepoint = await this.completeDetached(c, request);
    } catch (e) {
      error = e as Error;
      unknown = e instanceof WeirError && e.code === 'WEIR_SNAPSHOT_STORE_UNAVAILABLE';
      // What an unknown outcome left is copied in below if it was recorded, or swept as an orphan if not.
      if (request?.target && !unknown) await this.abandon(request.target);
    } finally {
      this.finalizingDetached.delete(c.id);
    }
    let note = '';
    if (unknown && request?.target) {
      // The record step may have run: the savepoint then exists, and the request succeeded.
      const found = await this.s.savepoints.get(request.target).catch(() => null);
      if (found) {
        this.log.warn({ err: error, savepoint: found.id }, 'savepoint recorded after all: the reply of its record step was lost');
        savepoint = found;
        error = undefined;
      } else if (found === null) note = `; savepoint ${request.target} may have been recorded all the same (GET /savepoints/${request.target} says)`;
    }
    this.requests.delete(c.id);
    if (error === undefined) request?.resolve(savepoint);
    else request?.reject(new WeirError('WEIR_SAVEPOINT_FAILED', `savepoint (checkpoint ${c.id}) of job ${this.s.job.id} could not be recorded: ${error.message}${note}`, { cause: error }));
    this.run(this.core.finalized(c.id, this.s.now(), error?.message));
    if (request?.target && (savepoint || unknown)) await this.holds.copyIn(request.target);
  }

  /** Record a detached savepoint whose blobs every subtask wrote (no checkpoint of the job is made). */
  private async completeDetached(c: Extract<CheckpointCommand<SubtaskSnapshot>, { type: 'finalize' }>, request: SavepointRequest | undefined): Promise<SavepointMetadata> {
    const { job } = this.s;
    if (!request?.target) throw new WeirError('WEIR_INTERNAL', `detached savepoint (checkpoint ${c.id}) of job ${job.id} has no target`);
    // Built without the previous checkpoint: a savepoint holds only what its own capture wrote.
    const taken = buildCompletedCheckpoint({
      jobId: job.id,
      attempt: job.attempt,
      id: c.id,
      timestamp: c.timestamp,
      completedAt: this.s.now(),
      operators: Object.fromEntries(job.description.nodes.map((n) => [n.uid, { maxParallelism: n.maxParallelism, parallelism: n.parallelism }])),
      acks: c.acks.map((a) => ({ subtaskIndex: Number(a.subtask.split('/')[1]), snapshot: a.handle, stats: a.stats })),
      finished: [],
    });
    const started = this.s.now();
    crashPoint('before-savepoint-record', ++savepointsRecorded);
    const handles = c.acks.map((a) => a.handle);
    const meta = await this.s.savepoints.complete(request.target, taken, this.savepointInfo(request.reason), reportedBytes(handles), savepointReferences(job.id, handles));
    this.log.info({ savepoint: meta.id, checkpoint: c.id, bytes: meta.sizeBytes, detached: true, completeMs: this.s.now() - started, ms: this.s.now() - c.timestamp }, 'savepoint completed');
    return meta;
  }

  private savepointInfo(reason: SavepointReason): SavepointJobInfo {
    const { job } = this.s;
    const operators = Object.fromEntries(job.description.nodes.map((n) => [n.uid, { kind: n.kind, keyed: n.keyed, ...(n.state ? { state: n.state } : {}) }]));
    return { jobId: job.id, jobName: job.description.name, jobVersion: job.description.version, reason, operators };
  }

  private async copyOut(checkpoint: CompletedCheckpoint, reason: SavepointReason): Promise<SavepointMetadata> {
    const { job } = this.s;
    const started = this.s.now();
    const meta = await this.s.savepoints.create(checkpoint, this.savepointInfo(reason));
    this.log.info({ savepoint: meta.id, checkpoint: checkpoint.id, bytes: meta.sizeBytes, copyMs: this.s.now() - started, ms: this.s.now() - checkpoint.timestamp }, 'savepoint completed');
    return meta;
  }

  private assemble(id: number, timestamp: number, acks: readonly { subtask: string; handle: SubtaskSnapshot; stats: CheckpointAck['stats'] }[]): CompletedCheckpoint {
    const { job } = this.s;
    const acked = new Set(acks.map((a) => a.subtask));
    // Subtasks that did not acknowledge had finished before the barrier: restored as finished.
    const finished: string[] = [];
    for (const key of job.subtasks.keys()) {
      if (acked.has(key)) continue;
      const [task, subtask] = key.split('/').map(Number) as [number, number];
      // Every operator of the task, not only its head: a rescale may chain them differently.
      for (const node of job.plan.tasks[task]!.nodes) finished.push(`${job.description.nodes[node]!.uid}/${subtask}`);
    }
    const previous = this.latest;
    return buildCompletedCheckpoint({
      jobId: job.id,
      attempt: job.attempt,
      id,
      timestamp,
      completedAt: this.s.now(),
      operators: Object.fromEntries(job.description.nodes.map((n) => [n.uid, { maxParallelism: n.maxParallelism, parallelism: n.parallelism }])),
      acks: acks.map((a) => ({ subtaskIndex: Number(a.subtask.split('/')[1]), snapshot: a.handle, stats: a.stats })),
      finished,
      ...(previous ? { previous } : {}),
    });
  }
}
