/**
 * Fault injection for tests: `WEIR_FAULT=<point>:<n>` makes this process die with SIGKILL when it
 * reaches that point with a number of at least n, as a crash there would. Points:
 * `before-commit:<sink uid>:<subtask>` (n: the checkpoint being committed); in the coordinator,
 * `before-savepoint-record` (n: the detached savepoints it has come to record, this one included;
 * its workers have written its blobs) and `before-savepoint-copy` (n: the detached savepoints it
 * has recorded, this one included, before it copies in the job blobs they refer to).
 */
export function crashPoint(point: string, n: number): void {
  const fault = process.env.WEIR_FAULT;
  if (fault === undefined || !fault.startsWith(`${point}:`)) return;
  if (n >= Number(fault.slice(point.length + 1))) process.kill(process.pid, 'SIGKILL');
}

/**
 * Fault injection for tests: `WEIR_FAULT=<point>:<ms>` makes every pass through a delay point wait
 * that long, as a slow step there would. Points: in the coordinator, `slow-savepoint-copy` (before a
 * detached savepoint copies in the job blobs it refers to).
 */
export async function delayPoint(point: string): Promise<void> {
  const fault = process.env.WEIR_FAULT;
  if (fault === undefined || !fault.startsWith(`${point}:`)) return;
  await new Promise((resolve) => setTimeout(resolve, Number(fault.slice(point.length + 1))));
}

/** Passes through each fail point so far, by point. */
const failed = new Map<string, number>();

/**
 * Fault injection for tests: `WEIR_FAULT=<point>:<n>` makes the first n passes through a fail point
 * return true, for the caller to fail there as an unreachable store would. Points: in the
 * coordinator, `fail-savepoint-copy` (a detached savepoint's copy of the job blobs it refers to)
 * `lose-savepoint-prepare-reply` (the Redis savepoint store set a detached savepoint's marker, the
 * reply is lost) and `lose-savepoint-record-reply` (the Redis savepoint store's record step ran, its
 * reply is lost).
 */
export function failPoint(point: string): boolean {
  const fault = process.env.WEIR_FAULT;
  if (fault === undefined || !fault.startsWith(`${point}:`)) return false;
  const n = (failed.get(point) ?? 0) + 1;
  failed.set(point, n);
  return n <= Number(fault.slice(point.length + 1));
}
