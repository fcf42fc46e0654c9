/**
 * Fault injection for tests: `WEIR_FAULT=<point>` makes this process die with SIGKILL when it
 * reaches that point, as a crash there would. Points: `before-commit:<sink uid>:<subtask>:<checkpoint>`.
 */
export function crashPoint(point: string): void {
  if (process.env.WEIR_FAULT === point) process.kill(process.pid, 'SIGKILL');
}
