import type { ActorSystem } from '@weir/actors';
import { subjects, type CheckpointAck, type CheckpointDecline, type CompletedCheckpoint, type SnapshotStore, type SubtaskSnapshot, type WorkerMessage } from '@weir/runtime';
import type { CheckpointConfig } from '@weir/sdk';
import type { Logger } from 'pino';
import { buildCompletedCheckpoint, CheckpointCoordinatorCore, unreferencedBlobs, type CheckpointCommand } from './checkpoint/index.js';
import { subtaskKey, type Job } from './job.js';

export interface JobCheckpointsSetup {
  readonly job: Job;
  readonly config: CheckpointConfig;
  readonly store: SnapshotStore;
  readonly system: ActorSystem;
  readonly log: Logger;
  readonly now: () => number;
  /** Too many consecutive checkpoint failures: fail the attempt over. */
  failJob(message: string): void;
}

/**
 * The I/O around one job's CheckpointCoordinatorCore: sends triggers and completion notices to
 * workers, writes completed checkpoints to the snapshot store, deletes what no retained checkpoint
 * needs. Commands are carried out one at a time, in order.
 */
export class JobCheckpoints {
  readonly core: CheckpointCoordinatorCore<SubtaskSnapshot>;
  /** Retained completed checkpoints, oldest first. */
  private readonly completed = new Map<number, CompletedCheckpoint>();
  private queue: Promise<void> = Promise.resolve();
  private readonly log: Logger;

  constructor(private readonly s: JobCheckpointsSetup) {
    this.core = new CheckpointCoordinatorCore<SubtaskSnapshot>(s.config, { now: s.now() });
    this.log = s.log.child({ job: s.job.id });
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
    // A bounded job should not wait a whole interval to end.
    if (this.core.stats(this.s.now()).counts.inProgress === 0) {
      const r = this.core.trigger(this.s.now());
      this.run(r.commands);
    }
  }

  onTaskFinished(task: number, subtask: number): void {
    this.run(this.core.subtaskFinished(subtaskKey(task, subtask), this.s.now()));
  }

  /** The attempt is failing over or stopping: pending checkpoints are aborted. */
  abortAll(reason: 'JOB_FAILOVER' | 'STOPPED', message: string): void {
    this.run(this.core.abortAll(reason, message, this.s.now()));
  }

  restored(id: number): void {
    this.core.restored(id, this.s.now());
  }

  /** Resolves when every command issued so far has been carried out. */
  idle(): Promise<void> {
    return this.queue;
  }

  private run(commands: readonly CheckpointCommand<SubtaskSnapshot>[]): void {
    if (commands.length === 0) return;
    this.queue = this.queue.then(async () => {
      for (const c of commands) {
        try {
          await this.execute(c);
        } catch (e) {
          this.log.error({ err: e, command: c.type }, 'checkpoint command failed');
        }
      }
    });
  }

  private async execute(c: CheckpointCommand<SubtaskSnapshot>): Promise<void> {
    const { job } = this.s;
    switch (c.type) {
      case 'trigger': {
        const byWorker = new Map<string, { task: number; subtask: number }[]>();
        for (const key of c.subtasks) {
          const s = job.subtasks.get(key);
          if (!s) continue;
          const [task, subtask] = key.split('/').map(Number) as [number, number];
          byWorker.set(s.workerId, [...(byWorker.get(s.workerId) ?? []), { task, subtask }]);
        }
        for (const [w, subtasks] of byWorker) {
          this.s.system.ref<WorkerMessage>(subjects.worker(w)).tell({ type: 'trigger-checkpoint', jobId: job.id, attempt: job.attempt, checkpointId: c.id, timestamp: c.timestamp, subtasks });
        }
        this.log.debug({ checkpoint: c.id }, 'checkpoint triggered');
        return;
      }
      case 'finalize': {
        let error: string | undefined;
        try {
          const checkpoint = this.assemble(c.id, c.timestamp, c.acks);
          await this.s.store.commitCheckpoint(job.id, job.attempt, checkpoint);
          this.completed.set(c.id, checkpoint);
          this.log.info({ checkpoint: c.id, ms: checkpoint.completedAt - checkpoint.timestamp, writtenBytes: checkpoint.writtenBytes, stateBytes: checkpoint.stateBytes }, 'checkpoint completed');
        } catch (e) {
          error = (e as Error).message;
        }
        this.run(this.core.finalized(c.id, this.s.now(), error));
        return;
      }
      case 'notify-complete': {
        const workers = new Set([...job.subtasks.values()].map((s) => s.workerId));
        for (const w of workers) this.s.system.ref<WorkerMessage>(subjects.worker(w)).tell({ type: 'checkpoint-complete', jobId: job.id, attempt: job.attempt, checkpointId: c.id });
        return;
      }
      case 'abort':
        // Aborts because the job stops or a newer checkpoint completed are routine.
        if (c.reason === 'STOPPED' || c.reason === 'SUBSUMED' || c.reason === 'JOB_FAILOVER') this.log.debug({ checkpoint: c.id, reason: c.reason }, 'checkpoint aborted');
        else this.log.warn({ checkpoint: c.id, reason: c.reason, message: c.message }, 'checkpoint aborted');
        return;
      case 'discard': {
        const dropped = c.ids.map((id) => this.completed.get(id)).filter((x): x is CompletedCheckpoint => x !== undefined);
        for (const id of c.ids) this.completed.delete(id);
        // Deltas are shared by consecutive checkpoints: delete only what no retained one names.
        const garbage = unreferencedBlobs(dropped, [...this.completed.values()]);
        await this.s.store.removeCheckpoints(job.id, c.ids);
        await this.s.store.deleteBlobs(job.id, garbage);
        return;
      }
      case 'fail-job':
        this.s.failJob(c.message);
        return;
    }
  }

  private assemble(id: number, timestamp: number, acks: readonly { subtask: string; handle: SubtaskSnapshot; stats: CheckpointAck['stats'] }[]): CompletedCheckpoint {
    const { job } = this.s;
    const acked = new Set(acks.map((a) => a.subtask));
    // Subtasks that did not acknowledge had finished before the barrier: restored as finished.
    const finished: string[] = [];
    for (const key of job.subtasks.keys()) {
      if (acked.has(key)) continue;
      const [task, subtask] = key.split('/').map(Number) as [number, number];
      finished.push(`${job.description.nodes[job.plan.tasks[task]!.head]!.uid}/${subtask}`);
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
