import { WeirError } from '@weir/sdk';

/** Job lifecycle, as in Flink. */
export type JobStatus = 'CREATED' | 'RUNNING' | 'FINISHED' | 'CANCELING' | 'CANCELED' | 'FAILING' | 'RESTARTING' | 'FAILED';

const TRANSITIONS: Record<JobStatus, readonly JobStatus[]> = {
  CREATED: ['RUNNING', 'CANCELING', 'FAILING', 'FAILED'],
  // RESTARTING straight from RUNNING: a rescale stops the attempt with a savepoint, not a failure.
  RUNNING: ['FINISHED', 'CANCELING', 'FAILING', 'RESTARTING'],
  FAILING: ['FAILED', 'RESTARTING', 'CANCELING'],
  RESTARTING: ['RUNNING', 'CANCELING', 'FAILING', 'FAILED'],
  CANCELING: ['CANCELED'],
  FINISHED: [],
  CANCELED: [],
  FAILED: [],
};

export const TERMINAL_JOB_STATUSES: ReadonlySet<JobStatus> = new Set(['FINISHED', 'CANCELED', 'FAILED']);

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The next status, or a typed error naming the illegal transition. */
export function transition(jobId: string, from: JobStatus, to: JobStatus): JobStatus {
  if (!canTransition(from, to)) throw new WeirError('WEIR_JOB_ILLEGAL_TRANSITION', `job ${jobId} cannot go from ${from} to ${to}`);
  return to;
}
