import type { Running } from './roles.js';

/**
 * Run a long-lived role until SIGINT/SIGTERM, then stop it gracefully (bounded to 5 s). A role
 * that reports a fatal failure (its actor stopped) is stopped too, and the process exits with
 * code 1 so that a supervisor (cluster up, systemd, Kubernetes) replaces it.
 */
export async function serve(start: (onFatal: (error: unknown) => void) => Promise<Running>, exit: (code: number) => void = process.exit): Promise<void> {
  let fatal!: () => void;
  const failed = new Promise<number>((resolve) => (fatal = () => resolve(1)));
  let onSignal!: () => void;
  const signalled = new Promise<number>((resolve) => (onSignal = () => resolve(0)));
  const running = await start(() => fatal());
  // Only now: a signal while the role starts keeps its default (the process ends at once).
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const code = await Promise.race([failed, signalled]);
    // Left armed after the stop: if a handle still keeps the loop alive, the process ends anyway.
    const force = setTimeout(() => exit(code), 5000);
    force.unref();
    await running.stop().catch(() => undefined);
    // A failed role exits at once: lingering handles (sockets, timers) must not keep it looking alive.
    if (code !== 0) exit(code);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
