/**
 * Fault injection for tests: `WEIR_FAULT=<point>:<n>` makes this process die with SIGKILL when it
 * reaches that point with a number of at least n, as a crash there would. Points:
 * `before-commit:<sink uid>:<subtask>` (n: the checkpoint being committed); in the coordinator,
 * `before-savepoint-record` (n: the detached savepoints it has come to record, this one included;
 * its workers have written its blobs).
 */
export function crashPoint(point: string, n: number): void {
  const fault = process.env.WEIR_FAULT;
  if (fault === undefined || !fault.startsWith(`${point}:`)) return;
  if (n >= Number(fault.slice(point.length + 1))) process.kill(process.pid, 'SIGKILL');
}
