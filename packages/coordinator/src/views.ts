/**
 * The REST read models of the coordinator's state (jobs, workers, the cluster overview): plain
 * functions of what they show, so the coordinator keeps only the lifecycle.
 */
import { jobView, type Job } from './job.js';
import type { WorkerInfo } from './workers.js';

/** A job as GET /jobs lists it. */
export function jobListItem(job: Job, now: number) {
  const v = jobView(job, now);
  return { id: v.id, name: v.name, version: v.version, state: v.state, attempt: v.attempt, startTime: v.startTime, endTime: v.endTime, duration: v.duration };
}

/** A worker as GET /workers lists it. */
export function workerView(w: WorkerInfo) {
  return { id: w.workerId, host: w.host, pid: w.pid, slots: w.slots, freeSlots: w.slots - w.used.size, registeredAt: w.registeredAt, lastHeartbeat: w.lastHeartbeat };
}

/** A job's effective checkpoint settings and restart strategy (REST /jobs/:id/checkpoints/config). */
export function checkpointConfigView(job: Job) {
  const c = job.checkpointConfig;
  return { ...c, enabled: c.intervalMs > 0, restartStrategy: { ...job.restartConfig, description: job.restartStrategy.describe() } };
}

/** Failures of a job, newest first, with the root cause of the latest one. */
export function exceptionsView(job: Job) {
  return { rootException: job.failure ?? null, restarts: job.restarts, restartStrategyExhausted: job.restartExhausted ?? null, history: [...job.exceptions].reverse() };
}

/** GET /overview: who answers, slots, and jobs by state. */
export function overviewOf(clusterId: string | undefined, jobs: Iterable<Job>, workers: Iterable<WorkerInfo>) {
  const counts: Record<string, number> = { running: 0, finished: 0, canceled: 0, failed: 0, other: 0 };
  for (const j of jobs) {
    const k = j.status.toLowerCase();
    counts[k in counts ? k : 'other']!++;
  }
  const views = [...workers].map(workerView);
  return {
    // Who answers: `weir cluster up` checks these to tell its own coordinator from another on the port.
    clusterId: clusterId ?? null,
    pid: process.pid,
    workers: views.length,
    slotsTotal: views.reduce((n, w) => n + w.slots, 0),
    slotsAvailable: views.reduce((n, w) => n + w.freeSlots, 0),
    jobs: counts,
  };
}
