/**
 * bench:savepoints — the cluster: a coordinator and two single-slot workers started as separate
 * processes (`weir coordinator`, `weir worker --slots 1 --id wN`), as `weir cluster up --workers 2`
 * runs them. Their JSON logs (level info) are parsed for the events the bench reports (savepoint,
 * checkpoint and restore lines). Everything is stopped by pid (checked against its start time);
 * the cluster's NATS streams and Redis keys are deleted by its unique prefix afterwards.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { CLI, Tracked, unlinkMatching } from './checkpoints-common.js';
import { freePort } from './cluster.js';
import { waitFor, withTimeout } from './util.js';

/** A log line of interest: pino's `time` (ms since epoch), message, and all of its fields. */
export interface LogEvent {
  readonly role: string;
  readonly time: number;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

/** Messages kept from the logs (the rest only goes to the tail kept for error messages). */
const EVENTS = new Set([
  'worker registered',
  'job submitted',
  'job running',
  'job failing',
  'checkpoint completed',
  'checkpoint aborted',
  'checkpoint write failed',
  'savepoint completed',
  'state restored',
]);
const TAIL_LINES = 300;

export class SavepointCluster {
  readonly clusterId = `benchsp${randomBytes(4).toString('hex')}`;
  restUrl = '';
  readonly events: LogEvent[] = [];
  /** The last lines of every process's output, for error messages. */
  readonly tail: string[] = [];
  private coordinator: Tracked | undefined;
  /** Every process started, for the final stop and the exit hook. */
  private readonly all: Tracked[] = [];
  private readonly roles = new Map<string, Tracked>();

  constructor(
    private readonly natsUrl: string,
    private readonly redisUrl: string,
  ) {}

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, WEIR_CLUSTER_ID: this.clusterId, WEIR_NATS_URL: this.natsUrl, WEIR_REDIS_URL: this.redisUrl, WEIR_REST_URL: this.restUrl };
  }

  /** Redis key of the cluster's savepoint index (its hash tag is `{<cluster>}`, outside the `weir:{<cluster>:*` sweep). */
  get savepointIndexKey(): string {
    return `weir:{${this.clusterId}}:savepoints`;
  }

  pids(): string {
    return this.all.map((p) => p.pid).join(', ');
  }

  /** role -> pid of the processes alive now (for CPU sampling). */
  pidsByRole(): Map<string, number> {
    return new Map([...this.roles].filter(([, p]) => p.alive).map(([role, p]) => [role, p.pid]));
  }

  private spawnRole(role: string, args: string[]): Tracked {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...this.env, WEIR_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const p = new Tracked(child);
    this.all.push(p);
    this.roles.set(role, p);
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
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    if (!line.startsWith('{')) return;
    try {
      const j = JSON.parse(line) as Record<string, unknown>;
      if (typeof j.msg === 'string' && EVENTS.has(j.msg) && typeof j.time === 'number') this.events.push({ role, time: j.time, msg: j.msg, fields: j });
    } catch {
      /* not a log line */
    }
  }

  /** Coordinator first (until its REST API answers), then the workers (until registered). Bounded. */
  async start(workerIds: readonly string[]): Promise<void> {
    const port = await freePort();
    this.restUrl = `http://127.0.0.1:${port}`;
    this.coordinator = this.spawnRole('coordinator', ['coordinator', '--rest-port', String(port)]);
    const c = this.coordinator;
    await waitFor('the coordinator REST API', async () => {
      if (c.exited) throw new Error(`the coordinator exited\n${this.tail.join('\n')}`);
      return (await fetch(`${this.restUrl}/overview`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined))?.ok || undefined;
    }, 30_000, 100);
    for (const id of workerIds) this.spawnRole(id, ['worker', '--slots', '1', '--id', id]);
    await waitFor(`${workerIds.length} workers registered`, async () => {
      const o = (await (await fetch(`${this.restUrl}/overview`, { signal: AbortSignal.timeout(5000) })).json()) as { workers: number };
      return o.workers >= workerIds.length ? true : undefined;
    }, 30_000, 100);
  }

  /** Any process of the cluster that exited by itself (a crash), for error messages. */
  crashed(): string | undefined {
    const dead = this.all.filter((p) => p.exited);
    if (dead.length === 0) return undefined;
    return `process(es) ${dead.map((p) => `${p.pid} (exit ${p.child.exitCode ?? p.child.signalCode})`).join(', ')} exited`;
  }

  /**
   * SIGTERM every process (workers first), SIGKILL what is left; then delete the cluster's streams,
   * its Redis keys (`weir:{<cluster>:*`, SCAN + UNLINK, bounded) and its savepoint index key.
   */
  async stop(nc: NatsConnection | undefined): Promise<string[]> {
    const notes: string[] = [];
    const workers = this.all.filter((p) => p.alive && p !== this.coordinator);
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

  /** Events at or after `since` (ms since epoch), of one message, optionally filtered. */
  eventsSince(since: number, msg: string, where: (e: LogEvent) => boolean = () => true): LogEvent[] {
    return this.events.filter((e) => e.time >= since && e.msg === msg && where(e));
  }
}
