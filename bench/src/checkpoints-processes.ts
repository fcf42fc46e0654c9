/**
 * A coordinator and workers started one by one as separate processes (`weir coordinator`,
 * `weir worker --slots 1 --id wN`), so that a worker can be SIGKILLed and started again as a
 * supervisor would. Their JSON logs (level info) are parsed for the events the recovery
 * measurement reports; everything is stopped by pid.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { CLI, Tracked, unlinkMatching } from './checkpoints-common.js';
import { freePort } from './cluster.js';
import { waitFor } from './util.js';

/** A log line of interest: pino's `time` (ms since epoch), message, and the rest of its fields. */
export interface LogEvent {
  readonly role: string;
  readonly time: number;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

/** Messages kept from the logs (everything else is dropped, except the tail kept for errors). */
const EVENTS = new Set(['worker registered', 'job failing', 'restarting', 'job status', 'job running', 'state restored', 'deployed', 'checkpoint write failed']);
const TAIL_LINES = 200;


export class RoleProcesses {
  readonly clusterId = `benchrec${randomBytes(4).toString('hex')}`;
  restUrl = '';
  readonly events: LogEvent[] = [];
  /** The last lines of every process's output, for error messages. */
  readonly tail: string[] = [];
  private coordinator: Tracked | undefined;
  readonly workers = new Map<string, Tracked>();
  /** Every process ever started, for the final stop and the exit hook. */
  private readonly all: Tracked[] = [];

  constructor(
    private readonly natsUrl: string,
    private readonly redisUrl: string,
    private readonly coordinatorArgs: string[],
  ) {}

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, WEIR_CLUSTER_ID: this.clusterId, WEIR_NATS_URL: this.natsUrl, WEIR_REDIS_URL: this.redisUrl, WEIR_REST_URL: this.restUrl };
  }

  private spawnRole(role: string, args: string[]): Tracked {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...this.env, WEIR_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
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
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    if (!line.startsWith('{')) return;
    try {
      const j = JSON.parse(line) as Record<string, unknown>;
      if (typeof j.msg === 'string' && EVENTS.has(j.msg) && typeof j.time === 'number') this.events.push({ role, time: j.time, msg: j.msg, fields: j });
    } catch {
      /* not a log line */
    }
  }

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
    p.signal('SIGKILL');
    if (!(await p.waitExit(10_000))) throw new Error(`worker ${id} (pid ${p.pid}) still there 10 s after SIGKILL`);
    return t0;
  }

  /** SIGTERM every process (workers first), SIGKILL what is left; then delete the cluster's streams and Redis keys. */
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
    return notes;
  }

  killNow(): void {
    for (const p of this.all) p.signal('SIGKILL');
  }

  /** Events at or after `since`, optionally of one message. */
  eventsSince(since: number, msg?: string): LogEvent[] {
    return this.events.filter((e) => e.time >= since && (msg === undefined || e.msg === msg));
  }
}
