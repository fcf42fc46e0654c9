/**
 * Shared pieces of bench:checkpoints: what must be stopped on exit or Ctrl-C, the REST views it
 * reads, deleting a cluster's Redis keys (SCAN + UNLINK, bounded) and formatting.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { procStat } from './procfs.js';
import { withTimeout } from './util.js';

export const CLI = fileURLToPath(new URL('../../packages/cli/dist/main.js', import.meta.url));

/** Something started by the bench: `stop` cleans up (bounded by the caller), `killNow` is the synchronous last resort. */
export interface Resource {
  readonly what: string;
  stop(): Promise<void>;
  killNow(): void;
}

/** What is running now, so that a failure or Ctrl-C stops it and an exit kills whatever is left. */
export class Resources {
  /** Each resource, with its stop in progress once one was asked for (a second release joins it). */
  private readonly live = new Map<Resource, Promise<void> | undefined>();

  add(r: Resource): Resource {
    this.live.set(r, undefined);
    return r;
  }

  /** Stop one resource (bounded; killNow if that fails); it is forgotten afterwards. Idempotent. */
  release(r: Resource, timeoutMs = 60_000): Promise<void> {
    if (!this.live.has(r)) return Promise.resolve();
    let stopping = this.live.get(r);
    if (!stopping) {
      stopping = withTimeout(r.stop(), timeoutMs, `stopping ${r.what}`)
        .catch((e) => {
          console.error(`bench: ${String(e)}`);
          r.killNow();
        })
        .finally(() => this.live.delete(r));
      this.live.set(r, stopping);
    }
    return stopping;
  }

  /** Newest first. */
  async releaseAll(timeoutMs = 60_000): Promise<void> {
    for (const r of [...this.live.keys()].reverse()) await this.release(r, timeoutMs);
  }

  killAll(): void {
    for (const r of this.live.keys()) r.killNow();
  }
}

/** A child process identified by pid and start time, so a reused pid is never signaled. */
export class Tracked {
  readonly pid: number;
  private readonly startTicks: number | undefined;

  constructor(readonly child: ChildProcess) {
    this.pid = child.pid ?? -1;
    this.startTicks = child.pid === undefined ? undefined : procStat(child.pid)?.startTicks;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  get alive(): boolean {
    if (this.exited || this.pid < 0) return false;
    const s = procStat(this.pid);
    return s !== undefined && (this.startTicks === undefined || s.startTicks === this.startTicks) && s.state !== 'Z';
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.alive) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      /* already gone */
    }
  }

  /** Resolves when the process has exited, or false after `ms`. */
  waitExit(ms: number): Promise<boolean> {
    if (this.exited) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(this.exited), ms);
      this.child.once('exit', () => (clearTimeout(timer), resolve(true)));
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`; true when it is gone. */
  async stop(graceMs = 10_000): Promise<boolean> {
    this.signal('SIGTERM');
    if (await this.waitExit(graceMs)) return true;
    this.signal('SIGKILL');
    return this.waitExit(3000);
  }
}

/** Run the weir CLI to its end with a time limit (then SIGKILL); `onStart` gets the process to track. */
export function weirCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number, onStart?: (p: Tracked) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tracked = new Tracked(child);
    onStart?.(tracked);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      tracked.signal('SIGKILL');
      reject(new Error(`weir ${args.slice(0, 2).join(' ')} did not end within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => (clearTimeout(timer), reject(e)));
    child.on('close', (code) => (clearTimeout(timer), resolve({ code, stdout, stderr })));
  });
}

export async function restGet<T>(base: string, path: string): Promise<T> {
  const res = await fetch(new URL(path, base), { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

export async function restPost<T>(base: string, path: string): Promise<T> {
  const res = await fetch(new URL(path, base), { method: 'POST', signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`POST ${path}: HTTP ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

export interface VertexView {
  uid: string;
  status: string;
  recordsIn: number;
  recordsOut: number;
  subtasks: { subtask: number; status: string; worker: string | null; recordsIn: number; recordsOut: number }[];
}

/** GET /jobs/:id (the fields the bench reads). */
export interface JobDetails {
  id: string;
  name: string;
  state: string;
  attempt: number;
  duration: number;
  restarts: number;
  failure: { code: string; message: string } | null;
  vertices: VertexView[];
}

export interface CheckpointEntry {
  id: number;
  status: string;
  triggerTimestamp: number;
  endToEndDurationMs: number;
  syncMs: number;
  asyncMs: number;
  alignmentMs: number;
  stateBytes: number;
  checkpointedBytes: number;
  numAcknowledged: number;
  numSubtasks: number;
  failureReason?: string;
  failureMessage?: string;
}

/** GET /jobs/:id/checkpoints. */
export interface CheckpointStats {
  counts: { triggered: number; inProgress: number; completed: number; failed: number; restored: number };
  latest: { completed: CheckpointEntry | null; failed: CheckpointEntry | null; restored: { id: number; time: number } | null };
  history: CheckpointEntry[];
}

export const vertex = (v: JobDetails, uid: string): VertexView | undefined => v.vertices.find((x) => x.uid === uid);

/** One line about a checkpoint: duration, sync/async/alignment, bytes. */
export const describeCheckpoint = (c: CheckpointEntry): string =>
  `#${c.id} ${ms(c.endToEndDurationMs)} end to end (sync ${ms(c.syncMs)}, async ${ms(c.asyncMs)}, alignment ${ms(c.alignmentMs)}), state ${bytes(c.stateBytes)}, written ${bytes(c.checkpointedBytes)}`;

/** UNLINK every key matching `pattern` (SCAN MATCH, at most `maxRounds` rounds); returns the keys removed. */
export async function unlinkMatching(redisUrl: string, pattern: string, maxRounds = 100_000): Promise<number> {
  if (!/^weir:\{[A-Za-z0-9_-]+:\*$/.test(pattern) && !/^weir:\{[A-Za-z0-9_-]+:[A-Za-z0-9_-]+\}:\*$/.test(pattern)) throw new Error(`refusing to delete keys matching '${pattern}'`);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true });
  let removed = 0;
  try {
    await redis.connect();
    let cursor = '0';
    for (let round = 0; round < maxRounds; round++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) removed += await redis.unlink(...keys);
      cursor = next;
      if (cursor === '0') return removed;
    }
    throw new Error(`SCAN of '${pattern}' did not finish within ${maxRounds} rounds`);
  } finally {
    redis.disconnect();
  }
}

export const ms = (x: number): string => (x >= 100 ? `${Math.round(x).toLocaleString('en-US')} ms` : `${x.toFixed(1)} ms`);

export const bytes = (n: number): string => {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
};

/** A small seeded PRNG (mulberry32): the same updates every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
