import type { Running } from './roles.js';

/**
 * Run a long-lived role until SIGINT/SIGTERM, then stop it gracefully (bounded to 5 s). A role
 * that reports a fatal failure (its actor stopped) is stopped too, and the process exits with
 * code 1 so that a supervisor (cluster up, systemd, Kubernetes) replaces it. With
 * `supervisorPid` (the `weir cluster up` that started it) it also stops once that process is gone.
 */
export async function serve(start: (onFatal: (error: unknown) => void) => Promise<Running>, exit: (code: number) => void = process.exit, supervisorPid?: number): Promise<void> {
  let fatal!: () => void;
  const failed = new Promise<number>((resolve) => (fatal = () => resolve(1)));
  let onSignal!: () => void;
  const signalled = new Promise<number>((resolve) => (onSignal = () => resolve(0)));
  const running = await start(() => fatal());
  // Only now: a signal while the role starts keeps its default (the process ends at once).
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Started by `weir cluster up`: if it is killed outright (SIGKILL, OOM) this process is handed to
  // another parent and would run on unseen, holding its REST port and slots. Stop with it instead.
  const orphaned = supervisorPid === undefined ? undefined : setInterval(() => {
    if (process.ppid === supervisorPid) return;
    clearInterval(orphaned);
    process.stderr.write(`weir: the 'weir cluster up' process (pid ${supervisorPid}) that started this one is gone: stopping\n`);
    onSignal();
  }, 500);
  orphaned?.unref();
  try {
    const code = await Promise.race([failed, signalled]);
    // Left armed after the stop: if a handle still keeps the loop alive, the process ends anyway.
    const force = setTimeout(() => exit(code), 5000);
    force.unref();
    await running.stop().catch(() => undefined);
    // A failed role exits at once: lingering handles (sockets, timers) must not keep it looking alive.
    if (code !== 0) exit(code);
  } finally {
    clearInterval(orphaned);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
