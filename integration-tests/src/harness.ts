import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { decodeWire } from '@weir/actors';
import { subjects } from '@weir/runtime';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../packages/cli/dist/main.js', import.meta.url));
export const WORDCOUNT = fileURLToPath(new URL('../../examples/wordcount/src/job.ts', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const NATS_URL = process.env.WEIR_NATS_URL ?? 'nats://127.0.0.1:4222';

export const uniqueId = (prefix: string): string => `${prefix}${randomBytes(4).toString('hex')}`;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the weir CLI to completion (bounded by a timeout, then SIGKILL). */
export function weir(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, WEIR_LOG_LEVEL: 'warn', ...env }, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Poll until `check` returns a value, or fail after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

/** A `weir cluster up` run as a real process tree, isolated by a unique cluster id. */
export class LocalCluster {
  private child: ChildProcess | undefined;
  output = '';
  restUrl = '';
  readonly clusterId = uniqueId('it');

  constructor(
    private readonly workers = 2,
    private readonly extraArgs: string[] = [],
  ) {}

  get env(): Record<string, string> {
    return { WEIR_REST_URL: this.restUrl, WEIR_CLUSTER_ID: this.clusterId, WEIR_NATS_URL: NATS_URL };
  }

  async start(): Promise<void> {
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'cluster', 'up', '--workers', String(this.workers), '--rest-port', String(port), ...this.extraArgs], {
      env: { ...process.env, WEIR_CLUSTER_ID: this.clusterId, WEIR_NATS_URL: NATS_URL, WEIR_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.on('data', (d) => (this.output += d));
    child.stderr!.on('data', (d) => (this.output += d));
    const line = await waitFor('cluster up', () => /WEIR_REST_URL=(\S+)/.exec(this.output)?.[1], 45_000, 100);
    this.restUrl = line;
  }

  async rest<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(new URL(path, this.restUrl), {
      method,
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  /** SIGKILL the `weir cluster up` process itself (not its children). */
  killSupervisor(): void {
    this.child?.kill('SIGKILL');
  }

  /** Worker process ids as the coordinator knows them. */
  async workerPids(): Promise<number[]> {
    return (await this.rest<{ workers: { pid: number }[] }>('GET', '/workers')).body.workers.map((w) => w.pid);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const pids = await this.workerPids().catch(() => [] as number[]);
      child.kill('SIGTERM');
      await waitFor('cluster exit', () => child.exitCode !== null || child.signalCode !== null, 15_000, 50).catch(() => child.kill('SIGKILL'));
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    await cleanupCluster(this.clusterId);
  }
}

/**
 * Delete what a cluster id left behind: its streams, and its Redis keys (each job's attempt fence
 * and checkpoints, savepoints, the savepoint index).
 */
export async function cleanupCluster(clusterId: string, redisUrl = REDIS_URL): Promise<void> {
  await cleanupNats(clusterId);
  await cleanupRedis(`weir:{${clusterId}:*`, redisUrl);
  await cleanupRedis(`weir:{${clusterId}}:*`, redisUrl); // the savepoint index
}

/** Delete every stream this cluster id created (attempt streams, the artifact bucket). */
export async function cleanupNats(clusterId: string): Promise<void> {
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const s of jsm.streams.list()) {
      const name = s.config.name;
      if (name.startsWith(`WEIR_${clusterId}_`) || name === `OBJ_weir_${clusterId}_artifacts`) await jsm.streams.delete(name);
    }
  } finally {
    await nc.close();
  }
}

export async function withNats<T>(fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: NATS_URL });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

/** Task states as the workers report them to the coordinator, per job and subtask (`task/subtask`), in order. */
export interface TaskStateWatch {
  states(jobId: string): Map<string, string[]>;
  stop(): Promise<void>;
}

/**
 * Listens beside the coordinator to the workers' `task-state` messages (the coordinator's actor
 * subject; a plain NATS subscription gets a copy of each), so a test sees transient states that
 * polling REST would miss.
 */
export async function watchTaskStates(clusterId: string): Promise<TaskStateWatch> {
  const nc = await connect({ servers: NATS_URL });
  const seen = new Map<string, Map<string, string[]>>();
  nc.subscribe(`${subjects.actorPrefix(clusterId)}.${subjects.coordinator}`, {
    callback: (err, msg) => {
      if (err) return;
      let m: { type?: string; jobId?: string; task?: number; subtask?: number; state?: string };
      try {
        m = decodeWire(msg.data) as typeof m;
      } catch {
        return; // a throw here would stop this subscription from reading
      }
      if (m?.type !== 'task-state' || !m.jobId) return;
      const job = seen.get(m.jobId) ?? new Map<string, string[]>();
      seen.set(m.jobId, job);
      const key = `${m.task}/${m.subtask}`;
      job.set(key, [...(job.get(key) ?? []), String(m.state)]);
    },
  });
  await nc.flush(); // subscribed before the caller goes on
  return { states: (jobId) => seen.get(jobId) ?? new Map(), stop: () => nc.close() };
}

/** The id `weir run` printed for the job it submitted. */
export const jobIdIn = (stderr: string): string | undefined => /as job ([0-9a-f]{16})/.exec(stderr)?.[1];

export const REDIS_URL = process.env.WEIR_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * A coordinator and workers started one by one as real processes (`weir coordinator`, `weir
 * worker --id`), so that a test can SIGKILL a worker and start it again as a supervisor would.
 */
export class ProcessCluster {
  readonly clusterId = uniqueId('pc');
  restUrl = '';
  output = '';
  private coordinator: ChildProcess | undefined;
  readonly workers = new Map<string, ChildProcess>();

  /** `redisUrl`: another Redis (database) for a second cluster. */
  constructor(
    private readonly coordinatorArgs: string[] = [],
    readonly redisUrl: string = REDIS_URL,
  ) {}

  get env(): Record<string, string> {
    return { WEIR_REST_URL: this.restUrl, WEIR_CLUSTER_ID: this.clusterId, WEIR_NATS_URL: NATS_URL, WEIR_REDIS_URL: this.redisUrl };
  }

  private spawnRole(args: string[], env: Record<string, string> = {}): ChildProcess {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...this.env, WEIR_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (this.output += d));
    child.stderr!.on('data', (d) => (this.output += d));
    return child;
  }

  /** `coordinatorEnv`: extra environment of the coordinator (e.g. a WEIR_FAULT crash point). */
  async start(workerIds: readonly string[], coordinatorEnv: Record<string, string> = {}): Promise<void> {
    const port = await freePort();
    this.restUrl = `http://127.0.0.1:${port}`;
    await this.startCoordinator(coordinatorEnv);
    for (const id of workerIds) this.startWorker(id);
    await this.waitForWorkers(workerIds.length);
  }

  /** Start a coordinator on this cluster's REST port once the previous one has exited (a supervisor's restart). */
  async restartCoordinator(env: Record<string, string> = {}): Promise<void> {
    const old = this.coordinator;
    if (old) await waitFor('the previous coordinator gone', () => old.exitCode !== null || old.signalCode !== null || undefined, 15_000, 20);
    await this.startCoordinator(env);
  }

  /** Until the coordinator process exits by itself (a crash point), or fail after `timeoutMs`. */
  async coordinatorExited(timeoutMs: number): Promise<void> {
    const c = this.coordinator!;
    await waitFor('the coordinator exits', () => c.exitCode !== null || c.signalCode !== null || undefined, timeoutMs, 20);
  }

  private async startCoordinator(env: Record<string, string>): Promise<void> {
    this.coordinator = this.spawnRole(['coordinator', '--rest-port', new URL(this.restUrl).port, ...this.coordinatorArgs], env);
    await waitFor('coordinator REST', async () => (await fetch(`${this.restUrl}/overview`, { signal: AbortSignal.timeout(1000) })).ok || undefined, 30_000, 100);
  }

  /** Start a worker (`env`: extra environment, e.g. a WEIR_FAULT crash point). */
  startWorker(id: string, env: Record<string, string> = {}, slots = 1): ChildProcess {
    const child = this.spawnRole(['worker', '--slots', String(slots), '--id', id], env);
    this.workers.set(id, child);
    return child;
  }

  /** SIGKILL a worker process and wait until it is gone. */
  async killWorker(id: string): Promise<void> {
    const child = this.workers.get(id)!;
    child.kill('SIGKILL');
    await waitFor(`worker ${id} gone`, () => child.exitCode !== null || child.signalCode !== null || undefined, 10_000, 20);
  }

  /** Until the coordinator knows `n` workers, each registered by the process this cluster runs now. */
  async waitForWorkers(n: number): Promise<void> {
    await waitFor(`${n} workers`, async () => {
      const known = (await this.rest<{ workers: { id: string; pid: number }[] }>('GET', '/workers')).body.workers;
      const current = known.filter((w) => this.workers.get(w.id)?.pid === w.pid);
      return current.length >= n ? true : undefined;
    }, 30_000, 100);
  }

  async rest<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(new URL(path, this.restUrl), {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  /** A job's REST view. */
  async job(jobId: string): Promise<any> {
    return (await this.rest('GET', `/jobs/${jobId}`)).body;
  }

  /** Until the job is FINISHED (its view); a FAILED job throws with its root cause. */
  async waitForFinished(jobId: string, timeoutMs: number): Promise<any> {
    return waitFor('FINISHED', async () => {
      const v = await this.job(jobId);
      if (v.state === 'FAILED') throw new Error(`job failed: ${JSON.stringify(v.failure)}`);
      return v.state === 'FINISHED' ? v : undefined;
    }, timeoutMs, 250);
  }

  /**
   * `kills` times: wait until the current attempt runs and completes a checkpoint, then SIGKILL a
   * random worker of those running the job at a random moment of up to `jitterMs` later and start
   * it again at once (a supervisor's restart), and wait for the next attempt.
   */
  async killWorkersAfterCheckpoints(jobId: string, kills: number, jitterMs: number): Promise<void> {
    const completed = async () => (await this.rest('GET', `/jobs/${jobId}/checkpoints`)).body.counts.completed as number;
    for (let kill = 1; kill <= kills; kill++) {
      await waitFor(`attempt ${kill} running`, async () => {
        const v = await this.job(jobId);
        return v.state === 'RUNNING' && v.attempt === kill ? v : undefined;
      }, 60_000, 50);
      const before = await completed();
      await waitFor(`a checkpoint of attempt ${kill}`, async () => ((await completed()) > before ? true : undefined), 30_000, 50);
      await sleep(Math.floor(Math.random() * jitterMs));
      const state = (await this.job(jobId)).state;
      if (state !== 'RUNNING') throw new Error(`the job must still run at kill ${kill}, it is ${state} (it ended too soon to test recovery)`);
      // A worker that runs part of the job: killing an idle one would restart nothing.
      const running = [...new Set<string>((await this.job(jobId)).vertices.flatMap((v: { subtasks: { worker: string | null }[] }) => v.subtasks.map((t) => t.worker)).filter((w: string | null) => w !== null && this.workers.has(w)))];
      if (running.length === 0) throw new Error(`no worker of this cluster runs job ${jobId} at kill ${kill}`);
      const victim = running[Math.floor(Math.random() * running.length)]!;
      await this.killWorker(victim);
      this.startWorker(victim);
      await waitFor(`restart ${kill}`, async () => ((await this.job(jobId)).attempt > kill ? true : undefined), 60_000, 50);
    }
  }

  /** Stop every process by PID, then delete this cluster's streams and Redis keys. */
  async stop(): Promise<void> {
    const all = [this.coordinator, ...this.workers.values()].filter((c): c is ChildProcess => c !== undefined && c.exitCode === null && c.signalCode === null);
    for (const c of all) c.kill('SIGTERM');
    await waitFor('processes exit', () => all.every((c) => c.exitCode !== null || c.signalCode !== null) || undefined, 10_000, 50).catch(() => {
      for (const c of all) c.kill('SIGKILL');
    });
    await cleanupCluster(this.clusterId, this.redisUrl);
  }
}

/** Delete the Redis keys matching a pattern (SCAN, bounded), never anything else. */
export async function cleanupRedis(pattern: string, url = REDIS_URL): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    for (let i = 0; i < 100_000; i++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    redis.disconnect();
  }
}
