import { hostname } from 'node:os';
import { Supervision, type ActorRef, type ActorSystem } from '@weir/actors';
import type { NatsConnection } from '@nats-io/transport-node';
import { buildJob, WeirError } from '@weir/sdk';
import type { NatsConnectionOptions } from '@weir/sdk/connectors';
import type { Logger } from 'pino';
import { JobModuleCache, type ArtifactStore } from './artifacts.js';
import type { DataPlane } from './channels/channel.js';
import { withLocalChannels } from './channels/local.js';
import { planExecution } from './plan.js';
import { subjects } from './subjects.js';
import { packAckNames } from './snapshots/ack-names.js';
import type { SnapshotStore } from './snapshots/types.js';
import { DEFAULT_TASK_OPTIONS, Task, type TaskOptions } from './task/task.js';
import type { Barrier } from './task/barrier-aligner.js';
import {
  PROTOCOL_VERSION,
  TERMINAL_TASK_STATES,
  type CoordinatorMessage,
  type DeployTasks,
  type HeartbeatReply,
  type TaskState,
  type WorkerMessage,
} from './protocol.js';

export interface WorkerOptions {
  readonly workerId: string;
  readonly slots: number;
  readonly system: ActorSystem;
  readonly dataPlane: DataPlane;
  readonly artifacts: ArtifactStore;
  /** Where tasks write checkpoint state and read it back on restore. */
  readonly snapshots: SnapshotStore;
  readonly log: Logger;
  /** Where fetched job bundles are written before import. */
  readonly cacheDir: string;
  /** Default Redis of connectors (WEIR_REDIS_URL). */
  readonly redisUrl?: string;
  /** NATS connections for connectors (shared by servers). */
  readonly nats: (options?: NatsConnectionOptions) => Promise<NatsConnection>;
  readonly heartbeatIntervalMs?: number;
  readonly metricsIntervalMs?: number;
  readonly taskOptions?: Partial<TaskOptions>;
  /**
   * Channels between two subtasks of one slot skip the data plane (default true): the frame goes
   * from one task's queue to the other's mailbox. False sends every channel through the data plane.
   */
  readonly localChannels?: boolean;
}

interface Slot {
  jobId: string;
  attempt: number;
  tasks: Task[];
}

/** How long a deployment waits for the job's older attempts on this worker to be canceled. */
const OLDER_ATTEMPT_CANCEL_WAIT_MS = 5_000;

/**
 * A worker process's actor (Flink: TaskManager): registers with the coordinator, keeps a
 * heartbeat, runs the subtasks deployed to its slots, reports their states and record counts.
 */
export class Worker {
  private readonly slots: (Slot | undefined)[];
  private readonly modules: JobModuleCache;
  private ref: ActorRef<WorkerMessage> | undefined;
  private coordinator: ActorRef<CoordinatorMessage>;
  private timers: NodeJS.Timeout[] = [];
  private registered = false;
  private refusedLogged = false;
  readonly log: Logger;

  constructor(private readonly o: WorkerOptions) {
    if (!Number.isInteger(o.slots) || o.slots < 1) throw new WeirError('WEIR_CONFIG_INVALID', `a worker needs at least one slot, got ${o.slots}`);
    this.slots = new Array(o.slots).fill(undefined);
    this.modules = new JobModuleCache(o.artifacts, o.cacheDir);
    this.coordinator = o.system.ref(subjects.coordinator);
    this.log = o.log.child({ workerId: o.workerId });
  }

  get name(): string {
    return subjects.worker(this.o.workerId);
  }

  async start(): Promise<void> {
    this.ref = this.o.system.spawn<WorkerMessage>(this.name, {
      create: () => ({ receive: (m: WorkerMessage) => this.receive(m) }),
      mailboxCapacity: 1000,
      // The instance holds no state (the Worker does): a failed message (a graph mismatch, a
      // missing checkpoint, an unknown type) is answered with its error and the next one is
      // handled. Restarting would spend the restart budget and stop the worker after 10 a minute.
      supervisor: Supervision.resume(),
    });
    const beat = this.o.heartbeatIntervalMs ?? 1000;
    this.timers.push(setInterval(() => void this.heartbeat(), beat));
    this.timers.push(setInterval(() => this.sendMetrics(), this.o.metricsIntervalMs ?? 1000));
    await this.heartbeat();
  }

  /** Registers when the coordinator does not know us (first start, or it restarted). */
  private async heartbeat(): Promise<void> {
    try {
      if (!this.registered) {
        await this.coordinator.ask({ type: 'register', protocol: PROTOCOL_VERSION, workerId: this.o.workerId, slots: this.o.slots, host: hostname(), pid: process.pid, startedAt: Date.now() }, { timeoutMs: 2000 });
        this.registered = true;
        this.log.info({ slots: this.o.slots }, 'registered with the coordinator');
        return;
      }
      const reply = await this.coordinator.ask<HeartbeatReply>({ type: 'heartbeat', workerId: this.o.workerId }, { timeoutMs: 2000 });
      if (!reply.known) {
        this.registered = false;
        // It declared this worker lost (or it restarted): every task here belongs to an attempt it
        // has failed over. Left running they would write output beside the new attempt's.
        const live = this.slots.flatMap((s) => s?.tasks ?? []).filter((t) => !TERMINAL_TASK_STATES.has(t.state));
        if (live.length > 0) this.log.warn({ tasks: live.length }, 'the coordinator no longer knows this worker: canceling its tasks');
        await Promise.all(live.map((t) => t.cancel()));
      }
    } catch (e) {
      // Refused for its version: said at error level (once), since retrying never helps.
      if ((e as { code?: string }).code === 'WEIR_WORKER_PROTOCOL_MISMATCH') {
        if (!this.refusedLogged) this.log.error({ err: e }, 'the coordinator refuses this worker');
        this.refusedLogged = true;
      } else this.log.debug({ err: (e as Error).message }, 'coordinator not reachable');
    }
  }

  private sendMetrics(): void {
    const tasks = [];
    for (const slot of this.slots) {
      if (!slot) continue;
      for (const t of slot.tasks) tasks.push({ jobId: slot.jobId, attempt: slot.attempt, ...t.id, state: t.state, counts: t.counts() });
    }
    if (tasks.length > 0) this.coordinator.tell({ type: 'metrics', workerId: this.o.workerId, tasks });
  }

  private async receive(m: WorkerMessage): Promise<unknown> {
    if (typeof m !== 'object' || m === null) {
      throw new WeirError('WEIR_PROTOCOL_UNKNOWN_MESSAGE', `worker ${this.o.workerId} got a message that is not an object (${m === null ? 'null' : typeof m}); control messages are objects with a 'type'`);
    }
    switch (m.type) {
      case 'deploy':
        return this.deploy(m);
      case 'cancel':
        await this.cancel(m.jobId, m.attempt);
        return { ok: true };
      case 'trigger-checkpoint': {
        const wanted = new Set(m.subtasks.map((r) => `${r.task}/${r.subtask}`));
        const barrier: Barrier = m.savepointTarget !== undefined ? { id: m.checkpointId, timestamp: m.timestamp, full: true, savepoint: m.savepointTarget } : { id: m.checkpointId, timestamp: m.timestamp, full: m.savepoint === true };
        for (const t of this.tasksOf(m.jobId, m.attempt)) if (wanted.has(`${t.id.task}/${t.id.subtask}`)) t.triggerCheckpoint(barrier, m.stopSources === true);
        return undefined;
      }
      case 'drain':
        for (const t of this.tasksOf(m.jobId, m.attempt)) t.drain();
        return undefined;
      case 'describe': {
        const def = await this.modules.load(m.artifact);
        return buildJob(def, { args: m.args, parallelism: m.parallelism, source: `job bundle ${m.artifact}` }).description;
      }
      case 'checkpoint-complete':
        for (const t of this.tasksOf(m.jobId, m.attempt)) t.checkpointComplete(m.checkpointId);
        return undefined;
      case 'status':
        return {
          workerId: this.o.workerId,
          slots: this.slots.map((s, i) => ({ slot: i, jobId: s?.jobId ?? null, attempt: s?.attempt ?? null, tasks: s?.tasks.length ?? 0 })),
        };
      default:
        throw new WeirError('WEIR_PROTOCOL_UNKNOWN_MESSAGE', `worker ${this.o.workerId} got an unknown message type '${String((m as { type?: unknown }).type)}'`);
    }
  }

  private tasksOf(jobId: string, attempt: number): Task[] {
    return this.slots.filter((s): s is Slot => s?.jobId === jobId && s.attempt === attempt).flatMap((s) => s.tasks);
  }

  private async deploy(d: DeployTasks): Promise<{ ok: true }> {
    if (!Number.isInteger(d.slot) || d.slot < 0 || d.slot >= this.o.slots) {
      throw new WeirError('WEIR_UNKNOWN_SLOT', `worker ${this.o.workerId} has slots 0..${this.o.slots - 1}; slot ${String(d.slot)} does not exist`);
    }
    // A newer attempt supersedes the job's older ones here. Their tasks still run if this worker was
    // declared lost while it was alive (a stall, a partition) and its cancel never came: left
    // running, and no longer tracked once the slot is taken over, they would write output forever.
    // Bounded: a cancel waits for the sinks' running commits, and the deployment must answer in time.
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([this.cancel(d.jobId, d.attempt - 1), new Promise((r) => (bound = setTimeout(r, OLDER_ATTEMPT_CANCEL_WAIT_MS)))]);
    clearTimeout(bound);
    const busy = this.slots[d.slot];
    if (busy && busy.tasks.some((t) => !TERMINAL_TASK_STATES.has(t.state))) {
      throw new WeirError('WEIR_SLOT_BUSY', `slot ${d.slot} of worker ${this.o.workerId} runs job ${busy.jobId} (attempt ${busy.attempt})`);
    }
    const log = this.log.child({ job: d.jobId, attempt: d.attempt, slot: d.slot });
    const def = await this.modules.load(d.artifact);
    const { graph, description } = buildJob(def, { args: d.args, parallelism: d.parallelism, source: `job bundle ${d.artifact}` });
    if (JSON.stringify(description) !== JSON.stringify(d.description)) {
      throw new WeirError('WEIR_JOB_GRAPH_MISMATCH', `job ${d.jobId}: the bundle builds a different graph on this worker than the one submitted; the build function must be deterministic for the same --arg values`);
    }
    const plan = planExecution(description);
    const inSlot = new Set(d.subtasks.map((r) => `${r.task}/${r.subtask}`));
    const remote = this.o.dataPlane.channels(d.jobId, d.attempt);
    // Slot k runs subtask k of every task, so a forward edge and 1/p of a hash edge stay in the slot.
    const channels = this.o.localChannels === false ? remote : withLocalChannels(remote, (e, from, to) => inSlot.has(`${e.fromTask}/${from}`) && inSlot.has(`${e.toTask}/${to}`));
    const slot: Slot = { jobId: d.jobId, attempt: d.attempt, tasks: [] };
    this.slots[d.slot] = slot;
    const options = { ...DEFAULT_TASK_OPTIONS, ...this.o.taskOptions };
    const restore = d.restoreFrom === undefined ? undefined : await this.o.snapshots.getCheckpoint(d.jobId, d.restoreFrom);
    if (d.restoreFrom !== undefined && !restore) {
      throw new WeirError('WEIR_CHECKPOINT_NOT_FOUND', `job ${d.jobId}: checkpoint ${d.restoreFrom} to restore from is not in the snapshot store`);
    }
    for (const ref of d.subtasks) {
      const taskPlan = plan.tasks[ref.task];
      if (!taskPlan || ref.subtask < 0 || ref.subtask >= taskPlan.parallelism) {
        throw new WeirError('WEIR_DEPLOY_INVALID', `job ${d.jobId} has no subtask ${ref.subtask} of task ${ref.task}`);
      }
      const task = new Task({
        jobId: d.jobId,
        attempt: d.attempt,
        graph,
        plan,
        task: taskPlan,
        subtask: ref.subtask,
        args: d.args,
        channels,
        system: this.o.system,
        log,
        options,
        checkpointing: d.checkpointing,
        snapshots: this.o.snapshots,
        ...(restore ? { restore } : {}),
        onCheckpoint: (t, r) =>
          this.coordinator.tell(
            r.kind === 'ack'
              ? { type: 'checkpoint-ack', workerId: this.o.workerId, jobId: d.jobId, attempt: d.attempt, checkpointId: r.checkpointId, ...t.id, snapshot: packAckNames(r.snapshot), stats: r.stats }
              : { type: 'checkpoint-decline', workerId: this.o.workerId, jobId: d.jobId, attempt: d.attempt, checkpointId: r.checkpointId, ...t.id, reason: r.reason },
          ),
        onInputsEnded: (t) => this.coordinator.tell({ type: 'task-inputs-ended', workerId: this.o.workerId, jobId: d.jobId, attempt: d.attempt, ...t.id }),
        connectorContext: (uid) => ({ subtask: ref.subtask, parallelism: taskPlan.parallelism, operatorUid: uid, jobId: d.jobId, log: log.child({ operator: uid, subtask: ref.subtask }), redisUrl: this.o.redisUrl ?? 'redis://127.0.0.1:6379', nats: this.o.nats }),
        onState: (t, state, error) => this.report(d, slot, t, state, error),
      });
      slot.tasks.push(task);
    }
    // Start after all are created, so a failing start can cancel its siblings.
    void Promise.all(slot.tasks.map((t) => t.start()));
    log.info({ subtasks: d.subtasks.length }, 'deployed');
    return { ok: true };
  }

  private report(d: DeployTasks, slot: Slot, t: Task, state: TaskState, error?: { code: string; message: string }): void {
    this.coordinator.tell({ type: 'task-state', workerId: this.o.workerId, jobId: d.jobId, attempt: d.attempt, ...t.id, state, ...(error ? { error } : {}), counts: t.counts() });
    if (TERMINAL_TASK_STATES.has(state) && slot.tasks.every((x) => TERMINAL_TASK_STATES.has(x.state))) {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots[i] = undefined;
    }
  }

  /** Cancel every subtask of a job on this worker (of attempts up to `upTo`, if given). */
  async cancel(jobId: string, upTo = Infinity): Promise<void> {
    const tasks = this.slots.filter((s): s is Slot => s?.jobId === jobId && s.attempt <= upTo).flatMap((s) => s.tasks);
    await Promise.all(tasks.map((t) => t.cancel()));
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    for (const s of this.slots) if (s) await Promise.all(s.tasks.map((t) => t.cancel()));
    if (this.ref) await this.o.system.stop(this.ref).catch(() => undefined);
  }
}
