/** @weir/coordinator — job lifecycle, scheduling and the REST API. */
export { Coordinator, type CoordinatorOptions, type SubmitRequest } from './coordinator.js';
export { createRestServer } from './rest/server.js';
export { STATUS_BY_CODE } from './rest/errors.js';
export { schedule, type FreeSlot, type SlotAssignment, type ScheduleResult } from './scheduler.js';
export { transition, canTransition, TERMINAL_JOB_STATUSES, type JobStatus } from './job-status.js';
export { WorkerRegistry, type WorkerInfo } from './workers.js';
export { jobView, type Job, type JobFailure } from './job.js';
export * from './checkpoint/index.js';
