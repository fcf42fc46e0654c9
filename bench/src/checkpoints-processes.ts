/**
 * A coordinator and workers started one by one as separate processes (`weir coordinator`,
 * `weir worker --slots 1 --id wN`), as `weir cluster up` runs them, so that a worker can be
 * SIGKILLed and started again as a supervisor would. Their JSON logs (level info) are parsed for
 * the events the benches report (recovery, latency, savepoints); everything is stopped by pid
 * (checked against its start time), and the cluster's NATS streams and Redis keys are deleted by
 * its unique prefix afterwards.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { CLI, Tracked, unlinkMatching } from './checkpoints-common.js';
import { freePort } from './cluster.js';
import { waitFor, withTimeout } from './util.js';

/** A log line of interest: pino's `time` (ms since epoch), message, and the rest of its fields. */
export interface LogEvent {
  readonly role: string;
  readonly time: number;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

/** Messages kept from the logs (everything else is dropped, except the tail kept for errors). */
const EVENTS = ['worker registered', 'job failing', 'restarting', 'job status', 'job running', 'state restored', 'deployed', 'checkpoint write failed'];

/** What a bench changes of {@link RoleProcesses}. */
export interface RoleProcessesOptions {
  /** Start of the cluster id (8 random hex digits follow). Default `benchrec`. */
  readonly idPrefix?: string;
  /** Log messages kept besides the default ones. */
  readonly extraEvents?: readonly string[];
  /** Output lines kept for error messages. Default 200. */
  readonly tailLines?: number;
}

export class RoleProcesses {
  readonly clusterId: string;
  restUrl = '';
  readonly events: LogEvent[] = [];
  /** The last lines of every process's output, for error messages. */
  readonly tail: string[] = [];
  private coordinator: Tracked | undefined;
  readonly workers = new Map<string, Tracked>();
  /** Every process ever started, for the final stop and the exit hook. */
  private readonly all: Tracked[] = [];
  /** Workers this class SIGKILLed on purpose: not crashes. */
  private readonly killed = new Set<Tracked>();
  private readonly eventNames: ReadonlySet<string>;
  private readonly tailLines: number;

  constructor(
    private readonly natsUrl: string,
    private readonly redisUrl: string,
    private readonly coordinatorArgs: string[],
    options: RoleProcessesOptions = {},
  ) {
    this.clusterId = `${options.idPrefix ?? 'benchrec'}${randomBytes(4).toString('hex')}`;
    this.eventNames = new Set([...EVENTS, ...(options.extraEvents ?? [])]);
    this.tailLines = options.tailLines ?? 200;
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, WEIR_CLUSTER_ID: this.clusterId, WEIR_NATS_URL: this.natsUrl, WEIR_REDIS_URL: this.redisUrl, WEIR_REST_URL: this.restUrl };
  }

  /** Redis key of the cluster's savepoint index (its hash tag is `{<cluster>}`, outside the `weir:{<cluster>:*` sweep). */
  get savepointIndexKey(): string {
    return `weir:{${this.clusterId}}:savepoints`;
  }

  /** The pids of every process ever started. */
  pids(): string {
    return this.all.map((p) => p.pid).join(', ');
  }

  /** role (`coordinator` or the worker id) -> pid of the processes alive now (for CPU sampling). */
  pidsByRole(): Map<string, number> {
    const roles: [string, Tracked | undefined][] = [['coordinator', this.coordinator], ...this.workers];
    return new Map(roles.flatMap(([role, p]) => (p?.alive ? [[role, p.pid] as [string, number]] : [])));
  }

  private spawnRole(role: string, args: string[]): Tracked {
    const child = spawn(process.execPath, [...(process.env.WEIR_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), CLI, ...args], { env: { ...this.env, WEIR_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const p = new Tracked(child);
    this.all.push(p);
    let partial = '';
    const onData = (d: Buffer) => {
      const lines = (partial + d.toString('utf8')).split('\n');
      partial = lines.pop()!;
      for (const line of lines) this.onLine(role, line);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    return p;
  }

  private onLine(role: string, line: string): void {
    if (line.trim() === '') return;
    this.tail.push(`${role}: ${line}`);
    if (this.tail.length > this.tailLines) this.tail.shift();
    if (!line.startsWith('{')) return;
    try {
      const j = JSON.parse(line) as Record<string, unknown>;
      if (typeof j.msg === 'string' && this.eventNames.has(j.msg) && typeof j.time === 'number') this.events.push({ role, time: j.time, msg: j.msg, fields: j });
    } catch {
      /* not a log line */
    }
  }

  /** Coordinator first (until its REST API answers), then the workers (until registered). Bounded. */
  async start(workerIds: readonly string[]): Promise<void> {
    const port = await freePort();
    this.restUrl = `http://127.0.0.1:${port}`;
    this.coordinator = this.spawnRole('coordinator', ['coordinator', '--rest-port', String(port), ...this.coordinatorArgs]);
    const c = this.coordinator;
    await waitFor('the coordinator REST API', async () => {
      if (c.exited) throw new Error(`the coordinator exited\n${this.tail.join('\n')}`);
      return (await fetch(`${this.restUrl}/overview`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined))?.ok || undefined;
    }, 30_000, 100);
    for (const id of workerIds) this.startWorker(id);
    await waitFor(`${workerIds.length} workers registered`, async () => {
      const o = (await (await fetch(`${this.restUrl}/overview`, { signal: AbortSignal.timeout(5000) })).json()) as { workers: number };
      return o.workers >= workerIds.length ? true : undefined;
    }, 30_000, 100);
  }

  startWorker(id: string): Tracked {
    const p = this.spawnRole(id, ['worker', '--slots', '1', '--id', id]);
    this.workers.set(id, p);
    return p;
  }

  pidOf(id: string): number | undefined {
    return this.workers.get(id)?.pid;
  }

  /** SIGKILL a worker; resolves with the time of the kill once the process is gone (bounded). */
  async killWorker(id: string): Promise<number> {
    const p = this.workers.get(id);
    if (!p?.alive) throw new Error(`worker ${id} is not running`);
    const t0 = Date.now();
    this.killed.add(p);
    p.signal('SIGKILL');
    if (!(await p.waitExit(10_000))) throw new Error(`worker ${id} (pid ${p.pid}) still there 10 s after SIGKILL`);
    return t0;
  }

  /** Any process of the cluster that exited by itself (a crash, not a killWorker), for error messages. */
  crashed(): string | undefined {
    const dead = this.all.filter((p) => p.exited && !this.killed.has(p));
    if (dead.length === 0) return undefined;
    return `process(es) ${dead.map((p) => `${p.pid} (exit ${p.child.exitCode ?? p.child.signalCode})`).join(', ')} exited`;
  }

  /**
   * SIGTERM every process (workers first), SIGKILL what is left; then delete the cluster's streams,
   * its Redis keys (`weir:{<cluster>:*`, SCAN + UNLINK, bounded) and its savepoint index key.
   */
  async stop(nc: NatsConnection | undefined): Promise<string[]> {
    const notes: string[] = [];
    const live = this.all.filter((p) => p.alive);
    const workers = live.filter((p) => p !== this.coordinator);
    await Promise.all(workers.map((p) => p.stop(10_000)));
    if (this.coordinator) await this.coordinator.stop(10_000);
    const left = this.all.filter((p) => p.alive).map((p) => p.pid);
    if (left.length > 0) notes.push(`processes still present after SIGKILL: ${left.join(', ')}`);
    if (nc) {
      const jsm = await jetstreamManager(nc);
      const names: string[] = [];
      for await (const s of jsm.streams.list()) {
        const name = s.config.name;
        if (name.startsWith(`WEIR_${this.clusterId}_`) || name === `OBJ_weir_${this.clusterId}_artifacts`) names.push(name);
      }
      for (const name of names) await jsm.streams.delete(name);
      notes.push(`${names.length} streams deleted`);
    }
    notes.push(`${await unlinkMatching(this.redisUrl, `weir:{${this.clusterId}:*`)} Redis keys left over deleted`);
    const redis = new Redis(this.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true });
    try {
      await withTimeout(redis.connect(), 10_000, `connecting to ${this.redisUrl}`);
      const n = await redis.unlink(this.savepointIndexKey);
      if (n > 0) notes.push(`savepoint index ${this.savepointIndexKey} was still there, deleted`);
    } finally {
      redis.disconnect();
    }
    return notes;
  }

  killNow(): void {
    for (const p of this.all) p.signal('SIGKILL');
  }

  /** Events at or after `since` (ms since epoch), optionally of one message, optionally filtered. */
  eventsSince(since: number, msg?: string, where: (e: LogEvent) => boolean = () => true): LogEvent[] {
    return this.events.filter((e) => e.time >= since && (msg === undefined || e.msg === msg) && where(e));
  }
}
