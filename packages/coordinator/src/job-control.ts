import type { ActorSystem } from '@weir/actors';
import { planExecution, subjects, type SavepointMetadata, type WorkerMessage } from '@weir/runtime';
import { validateGraph, WeirError, type JobGraphDescription, type OperatorDescription } from '@weir/sdk';
import type { Logger } from 'pino';
import type { Job, JobFailure } from './job.js';
import { TERMINAL_JOB_STATUSES, type JobStatus } from './job-status.js';
import type { OperationView, Operations, SavepointCatalog } from './savepoints/index.js';
import type { WorkerRegistry } from './workers.js';

/** What the operations below need of the coordinator's job lifecycle (coordinator.ts owns it). */
export interface JobLifecycle {
  readonly system: ActorSystem;
  readonly workers: WorkerRegistry;
  readonly operations: Operations;
  readonly savepoints: SavepointCatalog;
  readonly log: Logger;
  readonly slotWaitTimeoutMs: number;
  now(): number;
  getJob(jobId: string): Job;
  /** Fail the attempt; the restart strategy decides what follows. */
  failJob(job: Job, failure: JobFailure): Promise<void>;
  cancelTasks(job: Job): Promise<void>;
  finish(job: Job, to: 'FINISHED'): Promise<void>;
  /** End the attempt without a failure and deploy the job again as `next`. */
  redeploy(job: Job, next: Pick<Job, 'description' | 'plan' | 'parallelism'>): Promise<void>;
}

/**
 * Savepoints, stops and rescales of running jobs (Flink's REST job operations): each is an
 * asynchronous operation with a request id, polled through `Operations`. At most one stop or
 * rescale runs per job. A stop or rescale whose savepoint fails leaves the job running from its
 * latest checkpoint (`WEIR_STOP_FAILED`), as Flink does.
 */
export class JobControl {
  constructor(private readonly c: JobLifecycle) {}

  /** Trigger a savepoint of a running job. */
  savepoint(jobId: string): OperationView {
    const job = this.runningJob(jobId);
    return this.c.operations.start('savepoint', jobId, async () => {
      const meta = await job.checkpoints.savepoint({ reason: 'manual', stopSources: false });
      this.c.savepoints.compactor.offer(meta!);
      return { savepoint: this.c.savepoints.summary(meta!) };
    });
  }

  /**
   * Stop a running job gracefully: sources stop right after a final barrier (or, with `drain`, end
   * their input so timers fire and operators emit what is left), the final snapshot completes and
   * sinks commit, then the job ends FINISHED. With `savepoint` the snapshot is kept as a savepoint.
   * If the snapshot fails the job fails over to its latest checkpoint and keeps running.
   */
  stop(jobId: string, opts: { readonly savepoint: boolean; readonly drain: boolean }): OperationView {
    const job = this.runningJob(jobId);
    const attempt = job.attempt;
    return this.c.operations.start('stop', jobId, async () => {
      let meta: SavepointMetadata | undefined;
      try {
        meta = opts.drain
          ? await job.checkpoints.drainThenSavepoint({ reason: 'stop', copyOut: opts.savepoint })
          : await job.checkpoints.savepoint({ reason: 'stop', stopSources: true, copyOut: opts.savepoint });
      } catch (e) {
        // Sources stopped (or inputs ended) for nothing: carry on from the latest checkpoint.
        // (Not if it failed over meanwhile: its new attempt runs with its sources reading.)
        this.resumeAfter(job, attempt, `stop failed, the job resumes from its latest checkpoint: ${(e as Error).message}`);
        throw e;
      }
      if (meta) job.lastSavepoint = meta.id;
      assertSameAttempt(job, attempt, 'stop', meta);
      if (opts.drain) {
        // Every task finishes by itself once the final snapshot completed.
        await this.waitForStatus(job, ['FINISHED'], job.checkpointConfig.timeoutMs + 30_000);
      } else {
        // The completion notice goes out before the cancel (the savepoint resolves first): the
        // tasks commit the final transaction, and their cancel waits for those commits.
        await job.checkpoints.idle();
        await this.c.cancelTasks(job);
        await this.c.finish(job, 'FINISHED');
      }
      return { state: job.status, savepoint: meta ? this.c.savepoints.summary(meta) : null };
    });
  }

  /**
   * Change a running job's parallelism in one operation: build and check the graph at the new
   * parallelism first (nothing stops if that fails), stop with a savepoint, redeploy from it.
   */
  rescale(jobId: string, parallelism: number): OperationView {
    const job = this.runningJob(jobId);
    if (!Number.isInteger(parallelism) || parallelism < 1) throw new WeirError('WEIR_REST_INVALID_BODY', `parallelism must be a positive integer, got ${String(parallelism)}`);
    const attempt = job.attempt;
    return this.c.operations.start('rescale', jobId, async () => {
      const from = job.parallelism;
      const description = await this.describe(job, parallelism);
      validateGraph(description);
      assertSameOperators(job.description, description, parallelism);
      const plan = planExecution(description);
      const needed = Math.max(...plan.tasks.map((t) => t.parallelism));
      const { workers } = this.c;
      const slots = workers.freeSlots().length + [...workers.workers.values()].reduce((n, w) => n + [...w.used.values()].filter((j) => j === job.id).length, 0);
      if (needed > slots) throw new WeirError('WEIR_NOT_ENOUGH_SLOTS', `parallelism ${parallelism} needs ${needed} slots and the cluster has ${slots} for this job; start more workers first`);
      let meta: SavepointMetadata;
      try {
        meta = (await job.checkpoints.savepoint({ reason: 'rescale', stopSources: true }))!;
        assertSameAttempt(job, attempt, 'rescale', meta);
      } catch (e) {
        // Its sources stopped after the barrier: left RUNNING, the job would read nothing more.
        this.resumeAfter(job, attempt, `rescale failed, the job resumes from its latest checkpoint at parallelism ${from}: ${(e as Error).message}`);
        throw e;
      }
      job.lastSavepoint = meta.id;
      this.c.log.info({ job: job.id, from, to: parallelism, savepoint: meta.id }, 'rescaling');
      await this.c.redeploy(job, { description, plan, parallelism });
      await this.waitForStatus(job, ['RUNNING'], this.c.slotWaitTimeoutMs + 30_000);
      return { parallelism: { from, to: parallelism }, savepoint: this.c.savepoints.summary(meta) };
    });
  }

  /** A stop or rescale failed after its sources stopped: fail over, unless the attempt has already moved on. */
  private resumeAfter(job: Job, attempt: number, message: string): void {
    if (job.status === 'RUNNING' && job.attempt === attempt) void this.c.failJob(job, { code: 'WEIR_STOP_FAILED', message, time: this.c.now() });
  }

  /** The job, if it runs, has no stop or rescale going on, and its snapshot could hold every part's state. */
  private runningJob(jobId: string): Job {
    const job = this.c.getJob(jobId);
    if (job.status !== 'RUNNING') throw new WeirError('WEIR_JOB_NOT_RUNNING', `job ${jobId} is ${job.status}; savepoints, stops and rescales need a RUNNING job`);
    const busy = this.c.operations.busy(jobId, ['stop', 'rescale']);
    if (busy) throw new WeirError('WEIR_JOB_STOPPING', `job ${jobId} has a ${busy.kind} in progress (request ${busy.requestId})`);
    job.checkpoints.assertFinishedStateKept();
    return job;
  }

  /** The job's graph at another parallelism, built by a worker from the job's bundle (the coordinator runs no job code). */
  private async describe(job: Job, parallelism: number): Promise<JobGraphDescription> {
    const worker = [...this.c.workers.workers.keys()][0];
    if (worker === undefined) throw new WeirError('WEIR_NOT_ENOUGH_SLOTS', 'no worker is registered to build the job graph');
    return this.c.system.ref<WorkerMessage>(subjects.worker(worker)).ask<JobGraphDescription>({ type: 'describe', artifact: job.artifact, args: job.args, parallelism }, { timeoutMs: 30_000 });
  }

  private async waitForStatus(job: Job, wanted: readonly JobStatus[], timeoutMs: number): Promise<void> {
    const deadline = this.c.now() + timeoutMs;
    while (!wanted.includes(job.status)) {
      if (TERMINAL_JOB_STATUSES.has(job.status) || job.status === 'FAILING' || (job.status === 'RESTARTING' && job.failure && job.statusTimestamps.RESTARTING! > (job.statusTimestamps.RUNNING ?? 0) && wanted.includes('FINISHED'))) {
        throw new WeirError('WEIR_STOP_FAILED', `job ${job.id} went ${job.status} instead of ${wanted.join(' or ')}${job.failure ? `: ${job.failure.message}` : ''}`);
      }
      if (this.c.now() > deadline) throw new WeirError('WEIR_STOP_FAILED', `job ${job.id} did not reach ${wanted.join(' or ')} within ${timeoutMs} ms (it is ${job.status})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * The stop's or rescale's savepoint completed, but the job may have failed over meanwhile (its
 * snapshot was written just before): then it runs on in its new attempt, and neither ending nor
 * redeploying it is ours to do any more.
 */
function assertSameAttempt(job: Job, attempt: number, what: 'stop' | 'rescale', meta: SavepointMetadata | undefined): void {
  if (job.status === 'RUNNING' && job.attempt === attempt) return;
  const kept = meta ? `; its savepoint ${meta.id} was kept` : '';
  throw new WeirError('WEIR_STOP_FAILED', `${what} of job ${job.id} failed: the job failed over while its savepoint completed and resumes from its latest checkpoint (attempt ${job.attempt}, ${job.status})${kept}`);
}

/** What a rescale keeps of an operator: it changes parallelism only, so the state maps one to one. */
const shapeOf = (n: OperatorDescription | undefined): string => (n ? `a ${n.keyed ? 'keyed ' : ''}${n.kind}${n.connector ? ` (${n.connector})` : ''} with maxParallelism ${n.maxParallelism} and state ${JSON.stringify(n.state ?? {})}` : 'no such operator');

/**
 * The job's graph at the new parallelism must have the same operators as the running one (uids,
 * kinds, key groups, state), or its state would not map: checked before anything stops. Only a
 * build function that derives them from the parallelism can differ.
 * @throws WeirError WEIR_RESCALE_GRAPH_CHANGED naming the first operator that differs.
 */
function assertSameOperators(running: JobGraphDescription, rescaled: JobGraphDescription, parallelism: number): void {
  const before = new Map(running.nodes.map((n) => [n.uid, n]));
  const after = new Map(rescaled.nodes.map((n) => [n.uid, n]));
  for (const uid of new Set([...before.keys(), ...after.keys()])) {
    const was = shapeOf(before.get(uid));
    const is = shapeOf(after.get(uid));
    if (was !== is) {
      throw new WeirError('WEIR_RESCALE_GRAPH_CHANGED', `job '${running.name}' builds a different graph at parallelism ${parallelism}: operator '${uid}' would be ${is}, and is ${was} now; a rescale keeps every operator's uid, kind, state and maxParallelism (set maxParallelism explicitly if the build derives it from the parallelism), or stop with a savepoint and resume the changed job from it`);
    }
  }
}
