import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SUPERVISOR_PID_ENV } from './config.js';
import { RestClient } from './rest-client.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const say = (line: string) => process.stderr.write(`weir: ${line}\n`);

/** A worker that exits is started again after this long... */
const RESTART_DELAY_MS = 500;
/** ...unless it exited more than this many times within the window: a crash loop is left stopped. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

export interface ClusterUpOptions {
  readonly workers: number;
  readonly slots: number;
  readonly restPort: number;
  readonly slotWaitTimeoutMs: number;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * A local multi-process cluster: one coordinator and N worker processes, real OS processes that
 * talk over NATS exactly as on separate machines. A worker that exits is started again under its
 * id (at most 5 times a minute), as a supervisor would. Ctrl-C (or SIGTERM) stops them all.
 */
export async function clusterUp(o: ClusterUpOptions): Promise<number> {
  const children: ChildProcess[] = [];
  let stopping = false;
  /** Exit times of each worker id within the last RESTART_WINDOW_MS (crash-loop guard). */
  const exits = new Map<string, number[]>();
  const start = (role: string, args: string[], id?: string) => {
    const child = spawn(process.execPath, [MAIN, role, ...args], { env: { ...o.env, [SUPERVISOR_PID_ENV]: String(process.pid) }, stdio: ['ignore', 'inherit', 'inherit'] });
    children.push(child);
    child.on('exit', (code, signal) => {
      if (stopping) return;
      say(`${role}${id ? ` ${id}` : ''} (pid ${child.pid}) exited (${signal ?? code})`);
      if (id === undefined) return;
      // A supervisor's job: a worker that dies is started again under its id, so its jobs carry on.
      const now = Date.now();
      const recent = [...(exits.get(id) ?? []).filter((t) => now - t < RESTART_WINDOW_MS), now];
      exits.set(id, recent);
      if (recent.length > MAX_RESTARTS) return say(`worker ${id} exited ${recent.length} times within ${RESTART_WINDOW_MS / 1000} s; not starting it again`);
      setTimeout(() => {
        if (!stopping) say(`starting worker ${id} again (pid ${start(role, args, id).pid})`);
      }, RESTART_DELAY_MS).unref();
    });
    return child;
  };
  const coordinator = start('coordinator', ['--rest-port', String(o.restPort), '--slot-wait-timeout', String(o.slotWaitTimeoutMs)]);
  const restUrl = `http://127.0.0.1:${o.restPort}`;
  const rest = new RestClient(restUrl);
  const stopAll = async (): Promise<void> => {
    stopping = true;
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    const deadline = Date.now() + 5000;
    while (children.some((c) => c.exitCode === null && c.signalCode === null) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  const done = new Promise<number>((resolve) => {
    const onSignal = () => void stopAll().then(() => resolve(0));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    coordinator.on('exit', () => {
      if (!stopping) void stopAll().then(() => resolve(1));
    });
  });
  // Workers start once the coordinator answers, so their first registration is not lost.
  // Only our coordinator counts: another one (of another cluster) may already answer on the port,
  // and ours then exits with WEIR_REST_PORT_IN_USE; /overview names the pid that answers.
  const deadline = Date.now() + 30_000;
  let warned = false;
  for (;;) {
    if (stopping) return done;
    const ov = await rest.request<{ pid?: unknown; clusterId?: unknown }>('GET', '/overview').catch(() => undefined);
    if (ov?.pid === coordinator.pid) break;
    if (ov && !warned) {
      warned = true;
      say(`port ${o.restPort} is answered by another coordinator (pid ${String(ov.pid ?? 'unknown')}, cluster ${String(ov.clusterId ?? 'unknown')}), not the one started here`);
    }
    if (Date.now() > deadline) {
      say('the coordinator did not come up within 30 s');
      await stopAll();
      return 1;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  for (let i = 0; i < o.workers; i++) start('worker', ['--slots', String(o.slots), '--id', `w${i + 1}`], `w${i + 1}`);
  for (;;) {
    if (stopping) return done;
    const ov = await rest.request<{ workers: number }>('GET', '/overview').catch(() => ({ workers: 0 }));
    if (ov.workers >= o.workers) break;
    if (Date.now() > deadline) {
      say(`only ${ov.workers} of ${o.workers} workers registered within 30 s`);
      await stopAll();
      return 1;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  say(`cluster up: REST ${restUrl}, coordinator pid ${coordinator.pid}, ${o.workers} workers (pids ${children.slice(1).map((c) => c.pid).join(', ')}); Ctrl-C stops all`);
  process.stdout.write(`WEIR_REST_URL=${restUrl}\n`);
  return done;
}
