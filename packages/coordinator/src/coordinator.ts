import { randomBytes } from 'node:crypto';
import { Supervision, type ActorRef, type ActorSystem } from '@weir/actors';
import {
  planExecution,
  subjects,
  TERMINAL_TASK_STATES,
  type ArtifactStore,
  type CoordinatorMessage,
  type CompletedCheckpoint,
  type DataPlane,
  type SavepointMetadata,
  type SavepointStore,
  type SnapshotStore,
  type TaskStateUpdate,
  type WorkerMessage,
  unpackAckNames,
  PROTOCOL_VERSION,
} from '@weir/runtime';
import { validateGraph, WeirError, type CheckpointConfig, type JobGraphDescription, type RestartStrategyConfig } from '@weir/sdk';
import { createRestartStrategy, resolveCheckpointConfig, resolveRestartStrategy } from './checkpoint/index.js';
import { JobCheckpoints } from './job-checkpoints.js';
import { JobControl } from './job-control.js';
import { checkSavepointCompatibility, Operations, SavepointCatalog, SavepointCompactor, SavepointHousekeeping } from './savepoints/index.js';
import type { Logger } from 'pino';
import { jobView, subtaskKey, type Job, type JobFailure } from './job.js';
import { TERMINAL_JOB_STATUSES, transition, type JobStatus } from './job-status.js';
import { schedule } from './scheduler.js';
import { checkpointConfigView, exceptionsView, jobListItem, overviewOf, workerView } from './views.js';
import { WorkerProbe } from './worker-probe.js';
import { WorkerRegistry } from './workers.js';

export interface CoordinatorOptions {
  readonly system: ActorSystem;
  /** The cluster this coordinator serves (WEIR_CLUSTER_ID), shown by GET /overview; none when embedded. */
  readonly clusterId?: string;
  readonly dataPlane: DataPlane;
  readonly artifacts: ArtifactStore;
  /** Where completed checkpoints live (the same store workers write to). */
  readonly snapshots: SnapshotStore;
  /** Where savepoints live (pairs with `snapshots`). */
  readonly savepoints: SavepointStore;
  readonly log: Logger;
  /** A worker with no heartbeat for this long is lost (default 10 s). */
  readonly heartbeatTimeoutMs?: number;
  /**
   * A worker that NATS has had no subscriber for this long is lost (default 1 s): its process
   * exited or lost its connection. Probed every 500 ms; much sooner than a heartbeat timeout.
   */
  readonly workerGoneGraceMs?: number;
  /** How long a job waits for enough free slots before it fails (default 30 s). */
  readonly slotWaitTimeoutMs?: number;
  /** Time to wait for subtasks to acknowledge a cancel (default 10 s). */
  readonly cancelTimeoutMs?: number;
  /** Quiet time after the last savepoint before savepoints are compacted (default 5 s; savepoints/compactor.ts). */
  readonly savepointCompactionDelayMs?: number;
  /**
   * What a savepoint never completed left (a coordinator died while taking it) is deleted once
   * untouched for this long (default 10 minutes); looked for at start and then as often.
   */
  readonly orphanSavepointAgeMs?: number;
  readonly now?: () => number;
}

export interface SubmitRequest {
  readonly artifact: string;
  readonly description: JobGraphDescription;
  readonly args?: Readonly<Record<string, string>>;
  readonly parallelism?: number;
  /** Overrides of the job's checkpoint configuration. */
  readonly checkpoints?: Partial<CheckpointConfig>;
  /** Overrides the job's restart strategy. */
  readonly restartStrategy?: RestartStrategyConfig;
  /** Start from this savepoint (state mapped by operator uid). */
  readonly fromSavepoint?: string;
  /** Start even if the savepoint has state for operators the job does not have (that state is dropped). */
  readonly allowNonRestoredState?: boolean;
}


/** Failures that restarting cannot mend: the job never ran, the same deployment would fail again. */
const FINAL_BEFORE_FIRST_RUN = new Set(['WEIR_NOT_ENOUGH_SLOTS', 'WEIR_JOB_GRAPH_MISMATCH', 'WEIR_DEPLOY_FAILED', 'WEIR_DEPLOY_INVALID', 'WEIR_UNKNOWN_SLOT', 'WEIR_JOB_IMPORT_FAILED', 'WEIR_JOB_BUILD_FAILED', 'WEIR_JOB_NO_EXPORT']);
const MAX_EXCEPTIONS = 100;

/**
 * The coordinator (Flink: JobManager): accepts jobs, builds their execution plan, schedules
 * subtasks onto registered workers' slots, and tracks job and task states.
 */
export class Coordinator {
  readonly workers = new WorkerRegistry();
  readonly jobs = new Map<string, Job>();
  private ref: ActorRef<CoordinatorMessage> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Savepoint copies left undone, compaction, orphans (savepoints/housekeeping.ts). */
  private readonly housekeeping: SavepointHousekeeping;
  private readonly now: () => number;
  private readonly waiting = new Map<string, { since: number }>();
  /** Finds workers whose process is gone (worker-probe.ts). */
  private readonly probe: WorkerProbe;
  /** Savepoint, stop, rescale and disposal requests, polled by id. */
  readonly operations: Operations;
  /** The savepoints this cluster keeps. */
  readonly savepoints: SavepointCatalog;
  /** Savepoints, stops and rescales of running jobs (job-control.ts). */
  readonly control: JobControl;
  readonly log: Logger;

  constructor(private readonly o: CoordinatorOptions) {
    this.now = o.now ?? Date.now;
    this.operations = new Operations(this.now);
    this.log = o.log.child({ component: 'coordinator' });
    this.savepoints = new SavepointCatalog(o.savepoints, this.operations, this.now, new SavepointCompactor(o.savepoints, this.log, o.savepointCompactionDelayMs));
    this.housekeeping = new SavepointHousekeeping(o.savepoints, this.savepoints.compactor, this.log, o.orphanSavepointAgeMs);
    this.control = new JobControl({
      system: o.system,
      workers: this.workers,
      operations: this.operations,
      savepoints: this.savepoints,
      log: this.log,
      slotWaitTimeoutMs: o.slotWaitTimeoutMs ?? 30_000,
      now: this.now,
      getJob: (id) => this.getJob(id),
      failJob: (job, failure) => this.failJob(job, failure),
      cancelTasks: (job) => this.cancelTasks(job),
      finish: (job, to) => this.finish(job, to),
      redeploy: (job, next) => this.redeploy(job, next),
    });
    this.probe = new WorkerProbe({ system: o.system, workers: this.workers, log: this.log, now: this.now, graceMs: o.workerGoneGraceMs ?? 1_000, lost: (w, message, now) => this.workerLost(w, message, now) });
  }

  async start(): Promise<void> {
    this.ref = this.o.system.spawn<CoordinatorMessage>(subjects.coordinator, {
      create: () => ({ receive: (m: CoordinatorMessage) => this.receive(m) }),
      mailboxCapacity: 10_000,
      // The actor instance holds no state (the Coordinator does), so a restart would mend nothing;
      // and a failed message (unknown type, a bad request) is answered with its error to the asker.
      // Restarting would spend the restart budget and, after 10 within a minute, stop the actor.
      supervisor: Supervision.resume(),
    });
    this.timer = setInterval(() => void this.tick(), 500);
    this.housekeeping.start();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const job of this.jobs.values()) job.checkpoints?.holds.close();
    await this.housekeeping.stop();
    if (this.ref) await this.o.system.stop(this.ref).catch(() => undefined);
  }

  private receive(m: CoordinatorMessage): unknown {
    if (typeof m !== 'object' || m === null) {
      throw new WeirError('WEIR_PROTOCOL_UNKNOWN_MESSAGE', `coordinator got a message that is not an object (${m === null ? 'null' : typeof m}); control messages are objects with a 'type'`);
    }
    const now = this.now();
    switch (m.type) {
      case 'register': {
        if (m.protocol !== PROTOCOL_VERSION) {
          throw new WeirError('WEIR_WORKER_PROTOCOL_MISMATCH', `worker ${m.workerId} speaks control protocol ${m.protocol ?? 1} and this coordinator ${PROTOCOL_VERSION}: they would misread each other's checkpoint acknowledgements; run the same Weir version on the coordinator and its workers`);
        }
        const previous = this.workers.workers.get(m.workerId);
        if (previous && (previous.pid !== m.pid || previous.host !== m.host)) {
          // A new process under a known id: the old one died, whatever its heartbeats said.
          void this.workerLost(previous, `worker ${m.workerId} restarted (pid ${previous.pid} -> ${m.pid}); its tasks were lost`, now);
        }
        this.workers.register(m, now);
        this.log.info({ worker: m.workerId, slots: m.slots, host: m.host, workerPid: m.pid }, 'worker registered');
        void this.scheduleWaiting();
        return { ok: true };
      }
      case 'heartbeat':
        return { known: this.workers.heartbeat(m.workerId, now) };
      case 'task-state':
        this.onTaskState(m);
        return undefined;
      case 'metrics': {
        const stale = new Map<string, number>();
        for (const t of m.tasks) {
          const job = this.jobs.get(t.jobId);
          const current = job !== undefined && job.attempt === t.attempt && !TERMINAL_JOB_STATUSES.has(job.status);
          // A task of an attempt that is over still runs there (its worker was declared lost while
          // alive, or missed the cancel): cancel it, or it writes output beside the current attempt.
          if (!current && !TERMINAL_TASK_STATES.has(t.state)) stale.set(t.jobId, Math.max(stale.get(t.jobId) ?? 0, t.attempt));
          const s = current ? job.subtasks.get(subtaskKey(t.task, t.subtask)) : undefined;
          // A task's final counts come with its terminal state; a metrics report sent before that may arrive after it.
          if (s && !TERMINAL_TASK_STATES.has(s.state)) s.counts = { ...t.counts };
        }
        for (const [jobId, attempt] of stale) {
          this.log.warn({ worker: m.workerId, job: jobId, attempt }, 'tasks of an ended attempt still run: canceling them');
          this.o.system.ref<WorkerMessage>(subjects.worker(m.workerId)).tell({ type: 'cancel', jobId, attempt });
        }
        return undefined;
      }
      case 'task-inputs-ended': {
        const job = this.jobs.get(m.jobId);
        if (!job || job.attempt !== m.attempt) return undefined;
        if (job.status === 'RUNNING') job.checkpoints.onInputsEnded(m.task, m.subtask);
        // Workers start tasks before every slot's deployment has answered: a part that ends that
        // soon is kept until the attempt runs (dropped, its task waited for a trigger that never came).
        else if (job.status === 'CREATED' || job.status === 'RESTARTING') job.checkpoints.inputsEndedEarly(m.task, m.subtask);
        return undefined;
      }
      case 'checkpoint-ack':
      case 'checkpoint-decline': {
        const job = this.jobs.get(m.jobId);
        if (!job || job.attempt !== m.attempt || job.status !== 'RUNNING') return undefined; // a zombie or a late one
        if (m.type === 'checkpoint-ack') job.checkpoints.onAck({ ...m, snapshot: unpackAckNames(m.snapshot) });
        else job.checkpoints.onDecline(m);
        return undefined;
      }
      default:
        throw new WeirError('WEIR_PROTOCOL_UNKNOWN_MESSAGE', `coordinator got an unknown message type '${String((m as { type?: unknown }).type)}'`);
    }
  }

  /** Heartbeat timeouts, slot waits, checkpoint triggers and timeouts. */
  private async tick(): Promise<void> {
    const now = this.now();
    for (const w of this.workers.expire(now, this.o.heartbeatTimeoutMs ?? 10_000)) {
      await this.workerLost(w, `worker ${w.workerId} (pid ${w.pid} on ${w.host}) stopped sending heartbeats`, now);
    }
    this.probe.probeAll();
    for (const job of this.jobs.values()) if (job.status === 'RUNNING') job.checkpoints.tick();
    for (const [jobId, { since }] of this.waiting) {
      const job = this.jobs.get(jobId);
      if (!job || (job.status !== 'CREATED' && job.status !== 'RESTARTING')) {
        this.waiting.delete(jobId);
        continue;
      }
      if (now - since > (this.o.slotWaitTimeoutMs ?? 30_000)) {
        this.waiting.delete(jobId);
        const needed = Math.max(...job.plan.tasks.map((t) => t.parallelism));
        await this.failJob(job, { code: 'WEIR_NOT_ENOUGH_SLOTS', message: `job needs ${needed} free slots and the cluster has ${this.workers.freeSlots().length}; start more workers (weir worker --slots N) or lower the parallelism`, time: now }, true);
      }
    }
  }

  private async workerLost(w: { workerId: string; pid: number; host: string }, message: string, now: number): Promise<void> {
    this.log.warn({ worker: w.workerId, workerPid: w.pid }, 'worker lost');
    for (const job of this.jobs.values()) {
      if (TERMINAL_JOB_STATUSES.has(job.status)) continue;
      const hit = [...job.subtasks.values()].some((s) => s.workerId === w.workerId && !TERMINAL_TASK_STATES.has(s.state));
      if (hit) await this.failJob(job, { code: 'WEIR_WORKER_LOST', message, time: now, workerId: w.workerId });
    }
  }

  async putArtifact(bytes: Uint8Array): Promise<string> {
    return this.o.artifacts.put(bytes);
  }

  /** Accept a job: validate, plan, and schedule it (or wait for slots). */
  async submit(req: SubmitRequest): Promise<Job> {
    validateGraph(req.description);
    let savepoint: SavepointMetadata | undefined;
    let restored: readonly string[] = [];
    if (req.fromSavepoint !== undefined) {
      savepoint = await this.savepoints.get(req.fromSavepoint);
      // Checked before anything runs: a refusal costs nothing and names what to fix.
      restored = checkSavepointCompatibility(savepoint, req.description, req.allowNonRestoredState === true).restored;
    }
    const checkpointConfig = resolveCheckpointConfig({ ...req.description.config?.checkpoints, ...req.checkpoints });
    const restartConfig = resolveRestartStrategy(req.restartStrategy ?? req.description.config?.restartStrategy);
    await this.o.artifacts.get(req.artifact); // fail now, not in a worker, if the bundle is missing
    const id = randomBytes(8).toString('hex');
    const now = this.now();
    const job: Job = {
      id,
      description: req.description,
      plan: planExecution(req.description),
      artifact: req.artifact,
      args: req.args ?? {},
      parallelism: req.parallelism ?? 1,
      status: 'CREATED',
      attempt: 1,
      submittedAt: now,
      subtasks: new Map(),
      statusTimestamps: { CREATED: now },
      exceptions: [],
      restarts: 0,
      checkpointConfig,
      restartConfig,
      restartStrategy: createRestartStrategy(restartConfig),
      checkpoints: undefined as unknown as JobCheckpoints,
      ...(savepoint ? { fromSavepoint: savepoint.id } : {}),
    };
    let initial: CompletedCheckpoint | undefined;
    try {
      await this.o.snapshots.fence(id, job.attempt);
      if (savepoint) {
        // Sinks' pending transactions belong to the job that took the savepoint (it commits them).
        const sinks = req.description.nodes.filter((n) => n.kind === 'sink').map((n) => n.uid);
        initial = await this.o.savepoints.materialize(savepoint.id, { jobId: id, attempt: job.attempt, uids: restored, withoutOperatorState: sinks });
      }
    } catch (err) {
      // No job is created: nothing else would ever delete its fence and the state copied so far.
      await this.o.snapshots.deleteJob(id).catch((e: unknown) => this.log.warn({ err: e, job: id }, 'could not delete the data of a job that did not start'));
      throw err;
    }
    (job as { checkpoints: JobCheckpoints }).checkpoints = new JobCheckpoints({
      job,
      config: checkpointConfig,
      store: this.o.snapshots,
      savepoints: this.o.savepoints,
      ...(initial ? { initial } : {}),
      system: this.o.system,
      log: this.log,
      now: this.now,
      failJob: (message) => void this.failJob(job, { code: 'WEIR_CHECKPOINT_FAILURES_EXCEEDED', message, time: this.now() }),
    });
    this.jobs.set(id, job);
    this.log.info({ job: id, name: req.description.name, fromSavepoint: savepoint?.id ?? null }, 'job submitted');
    this.waiting.set(id, { since: now });
    await this.scheduleWaiting();
    return job;
  }

  private async scheduleWaiting(): Promise<void> {
    for (const jobId of [...this.waiting.keys()]) {
      const job = this.jobs.get(jobId);
      if (!job || (job.status !== 'CREATED' && job.status !== 'RESTARTING')) {
        this.waiting.delete(jobId);
        continue;
      }
      const result = schedule(job.plan, this.workers.freeSlots());
      if (result.kind === 'not-enough-slots') continue;
      this.waiting.delete(jobId);
      await this.deploy(job, result.assignments);
    }
  }

  private async deploy(job: Job, assignments: readonly { workerId: string; slot: number; subtasks: readonly { task: number; subtask: number }[] }[]): Promise<void> {
    const log = this.log.child({ job: job.id, attempt: job.attempt });
    for (const a of assignments) {
      this.workers.workers.get(a.workerId)?.used.set(a.slot, job.id);
      for (const s of a.subtasks) job.subtasks.set(subtaskKey(s.task, s.subtask), { state: 'DEPLOYING', workerId: a.workerId, counts: {} });
    }
    const status = job.status;
    const attempt = job.attempt;
    const restore = job.checkpoints.latest;
    try {
      await this.o.dataPlane.prepare(job.id, job.attempt, job.plan.edges);
      const checkpointing = { enabled: job.checkpointConfig.intervalMs > 0, mode: job.checkpointConfig.mode, maxDeltaChain: job.checkpointConfig.maxDeltaChain, intervalMs: job.checkpointConfig.intervalMs };
      await Promise.all(
        assignments.map((a) =>
          this.o.system.ref<WorkerMessage>(subjects.worker(a.workerId)).ask(
            {
              type: 'deploy',
              jobId: job.id,
              attempt: job.attempt,
              artifact: job.artifact,
              args: job.args,
              parallelism: job.parallelism,
              description: job.description,
              slot: a.slot,
              subtasks: a.subtasks,
              checkpointing,
              ...(restore ? { restoreFrom: restore.id } : {}),
            },
            { timeoutMs: 30_000 },
          ).catch((e: unknown) => {
            throw this.probe.goneAt(a.workerId, e);
          }),
        ),
      );
    } catch (e) {
      const err = e as { code?: string; message?: string };
      log.error({ err }, 'deployment failed');
      const code = typeof err.code === 'string' && err.code.startsWith('WEIR_') ? err.code : 'WEIR_DEPLOY_FAILED';
      await this.failJob(job, { code, message: `deployment failed: ${err.message ?? String(e)}`, time: this.now() });
      return;
    }
    if (job.status !== status || job.attempt !== attempt) return; // failed or canceled meanwhile
    job.startTime ??= this.now();
    this.setStatus(job, 'RUNNING');
    if (restore) job.checkpoints.restored(restore.id);
    job.checkpoints.startAttempt();
    log.info({ slots: assignments.length, restoredFrom: restore?.id ?? null }, 'job running');
    this.checkCompletion(job);
  }

  private onTaskState(m: TaskStateUpdate): void {
    const job = this.jobs.get(m.jobId);
    if (!job || job.attempt !== m.attempt) return; // a zombie of an old attempt
    const key = subtaskKey(m.task, m.subtask);
    const s = job.subtasks.get(key);
    if (!s) return;
    s.state = m.state;
    s.counts = { ...m.counts };
    if (m.state === 'FINISHED' && job.status === 'RUNNING') job.checkpoints.onTaskFinished(m.task, m.subtask);
    if (m.state === 'FAILED') {
      const task = job.plan.tasks[m.task];
      void this.failJob(job, { ...(m.error ?? { code: 'WEIR_TASK_EXCEPTION', message: 'task failed' }), time: this.now(), task: task?.name ?? String(m.task), subtask: m.subtask, workerId: m.workerId });
      return;
    }
    this.checkCompletion(job);
  }

  /** Subtasks can end before the job is marked RUNNING (another worker still deploying): check on both events. */
  private checkCompletion(job: Job): void {
    const all = [...job.subtasks.values()];
    if (job.status === 'RUNNING' && all.every((x) => x.state === 'FINISHED')) void this.finish(job, 'FINISHED');
    else if (job.status === 'CANCELING' && all.every((x) => TERMINAL_TASK_STATES.has(x.state))) void this.finish(job, 'CANCELED');
  }

  private setStatus(job: Job, to: JobStatus): void {
    job.status = transition(job.id, job.status, to);
    job.statusTimestamps[to] = this.now();
    this.log.info({ job: job.id, attempt: job.attempt, status: to }, 'job status');
  }

  private async finish(job: Job, to: 'FINISHED' | 'CANCELED' | 'FAILED'): Promise<void> {
    if (TERMINAL_JOB_STATUSES.has(job.status)) return;
    this.setStatus(job, to);
    job.endTime = this.now();
    this.workers.release(job.id);
    await this.o.dataPlane.dispose(job.id, job.attempt).catch((e) => this.log.warn({ err: e, job: job.id }, 'could not delete the attempt stream'));
    job.checkpoints.abortAll('STOPPED', `job ${to}`);
    await job.checkpoints.idle();
    // A finished or canceled job's checkpoints are of no further use (once no savepoint refers to
    // their blobs); a failed job's are kept to resume from.
    if (to !== 'FAILED') await job.checkpoints.holds.whenReleased(() => this.o.snapshots.deleteJob(job.id).catch((e) => this.log.warn({ err: e, job: job.id }, 'could not delete checkpoint data')));
    void this.scheduleWaiting();
  }

  /**
   * Fail the attempt: record the failure, cancel what still runs, then restart from the latest
   * completed checkpoint as the restart strategy allows, or end FAILED with the root cause.
   */
  private async failJob(job: Job, failure: JobFailure, duringRestart = false): Promise<void> {
    if (TERMINAL_JOB_STATUSES.has(job.status) || job.status === 'CANCELING' || job.status === 'FAILING') return; // FAILING: a consequence of the failure being handled
    // While restarting, only the new attempt's deployment (or its wait for slots) can fail.
    if (job.status === 'RESTARTING' && job.subtasks.size === 0 && !duringRestart) return;
    job.failure = failure;
    job.exceptions.push({ ...failure, attempt: job.attempt });
    if (job.exceptions.length > MAX_EXCEPTIONS) job.exceptions.shift();
    this.log.error({ job: job.id, attempt: job.attempt, failure }, 'job failing');
    this.setStatus(job, 'FAILING');
    job.checkpoints.abortAll('JOB_FAILOVER', failure.message);
    await this.cancelTasks(job);
    // The attempt is over: its subtasks no longer count (late reports and worker losses find nothing).
    job.failedAttemptSubtasks = new Map(job.subtasks);
    job.subtasks.clear();
    this.waiting.delete(job.id);
    this.workers.release(job.id);
    await this.o.dataPlane.dispose(job.id, job.attempt).catch((e) => this.log.warn({ err: e, job: job.id }, 'could not delete the attempt stream'));
    const neverRan = job.restarts === 0 && job.startTime === undefined && FINAL_BEFORE_FIRST_RUN.has(failure.code);
    const decision = neverRan ? { restart: false as const, reason: 'the job never started; restarting would fail the same way' } : job.restartStrategy.onFailure(this.now());
    if (!decision.restart) {
      job.restartExhausted = decision.reason;
      this.log.error({ job: job.id, reason: decision.reason }, 'not restarting');
      await this.finish(job, 'FAILED');
      return;
    }
    this.setStatus(job, 'RESTARTING');
    this.log.warn({ job: job.id, delayMs: decision.delayMs, attempt: job.attempt + 1 }, 'restarting');
    setTimeout(() => void this.restart(job), decision.delayMs).unref();
  }

  /** Attempt + 1: fence the old attempt's writes, then wait for slots and deploy (restoring state). A rescale is not counted as a restart. */
  private async restart(job: Job, counted = true): Promise<void> {
    if (job.status !== 'RESTARTING') return;
    job.attempt++;
    if (counted) job.restarts++;
    try {
      await this.o.snapshots.fence(job.id, job.attempt);
    } catch (e) {
      await this.failJob(job, { code: 'WEIR_SNAPSHOT_FENCED', message: `could not fence attempt ${job.attempt}: ${(e as Error).message}`, time: this.now() }, true);
      return;
    }
    this.waiting.set(job.id, { since: this.now() });
    await this.scheduleWaiting();
  }

  /** Cancel a job by id. */
  async cancel(jobId: string): Promise<Job> {
    const job = this.getJob(jobId);
    if (TERMINAL_JOB_STATUSES.has(job.status)) throw new WeirError('WEIR_JOB_NOT_RUNNING', `job ${jobId} is already ${job.status}`);
    if (job.status === 'CANCELING') return job;
    this.setStatus(job, 'CANCELING');
    this.waiting.delete(jobId);
    void this.cancelTasks(job).then(() => this.finish(job, 'CANCELED'));
    return job;
  }

  private async cancelTasks(job: Job): Promise<void> {
    // A lost worker (no longer registered) cannot answer: do not wait for its ask to time out.
    const workerIds = new Set([...job.subtasks.values()].filter((s) => !TERMINAL_TASK_STATES.has(s.state) && this.workers.workers.has(s.workerId)).map((s) => s.workerId));
    await Promise.all(
      [...workerIds].map((w) =>
        this.o.system
          .ref<WorkerMessage>(subjects.worker(w))
          .ask({ type: 'cancel', jobId: job.id, attempt: job.attempt }, { timeoutMs: this.o.cancelTimeoutMs ?? 10_000 })
          .catch((e) => this.log.warn({ err: (e as Error).message, worker: w, job: job.id }, 'cancel not acknowledged')),
      ),
    );
  }

  /**
   * End the attempt without a failure and deploy the job again as `next` (a rescale, once its
   * savepoint is the job's latest checkpoint): like a failover, but no restart is counted.
   */
  private async redeploy(job: Job, next: Pick<Job, 'description' | 'plan' | 'parallelism'>): Promise<void> {
    job.checkpoints.abortAll('STOPPED', 'rescaling');
    await this.cancelTasks(job);
    job.subtasks.clear();
    job.failedAttemptSubtasks = undefined;
    this.workers.release(job.id);
    await this.o.dataPlane.dispose(job.id, job.attempt).catch((e) => this.log.warn({ err: e, job: job.id }, 'could not delete the attempt stream'));
    Object.assign(job, next);
    this.setStatus(job, 'RESTARTING');
    await this.restart(job, false);
  }

  getJob(jobId: string): Job {
    const job = this.jobs.get(jobId);
    if (!job) throw new WeirError('WEIR_JOB_NOT_FOUND', `no job with id '${jobId}'; list jobs with GET /jobs or 'weir list'`);
    return job;
  }

  view(jobId: string) {
    return jobView(this.getJob(jobId), this.now());
  }

  /** Checkpoint counts, latest and history of a job (REST /jobs/:id/checkpoints). */
  checkpointStats(jobId: string) {
    return this.getJob(jobId).checkpoints.core.stats(this.now());
  }

  checkpointConfig(jobId: string) {
    return checkpointConfigView(this.getJob(jobId));
  }

  /** Failures of a job, newest first, with the root cause of the latest one. */
  exceptions(jobId: string) {
    return exceptionsView(this.getJob(jobId));
  }

  listJobs() {
    return [...this.jobs.values()].map((j) => jobListItem(j, this.now()));
  }

  listWorkers() {
    return [...this.workers.workers.values()].map(workerView);
  }

  overview() {
    return overviewOf(this.o.clusterId, this.jobs.values(), this.workers.workers.values());
  }
}
