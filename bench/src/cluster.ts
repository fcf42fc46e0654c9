/**
 * A `weir cluster up` process tree for the benchmark, started and stopped by pid, plus running
 * the wordcount job on it through the CLI, as a user (and the integration tests) would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { childrenOf, procStat } from './procfs.js';
import { sleep, waitFor, withTimeout } from './util.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = fileURLToPath(new URL('../../packages/cli/dist/main.js', import.meta.url));
export const WORDCOUNT = fileURLToPath(new URL('../../examples/wordcount/src/job.ts', import.meta.url));

export interface JobView {
  id: string;
  name: string;
  state: string;
  /** ms from RUNNING to the end. */
  duration: number;
  startTime: number | null;
  endTime: number | null;
  failure: { code: string; message: string } | null;
  vertices: { uid: string; recordsIn: number; recordsOut: number }[];
}

const TERMINAL = new Set(['FINISHED', 'CANCELED', 'FAILED']);

export interface WordcountRun {
  readonly view: JobView;
  /**
   * Frames a second published on the job's data stream, from its last sequence polled every
   * 100 ms while it ran (the stream is deleted as the job ends, so the total is not observable).
   */
  readonly framesPerSecond: number | undefined;
  /** Highest last sequence seen: a lower bound of the frames published. */
  readonly framesSeen: number;
  /** Most frames waiting in the data stream at once (published, not yet acked), sampled. */
  readonly peakBacklog: number;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Observed {
  frames: number;
  backlog: number;
  samples: { t: number; seq: number }[];
}

/** A process we started (directly or through `cluster up`), identified by pid and start time. */
interface Tracked {
  readonly pid: number;
  readonly startTicks: number;
}

const alive = (p: Tracked): boolean => {
  const s = procStat(p.pid);
  return s !== undefined && s.startTicks === p.startTicks && s.state !== 'Z';
};

const killTracked = (p: Tracked, signal: NodeJS.Signals): void => {
  if (!alive(p)) return;
  try {
    process.kill(p.pid, signal);
  } catch {
    /* already gone */
  }
};

export class BenchCluster {
  readonly clusterId = `bench${randomBytes(4).toString('hex')}`;
  restUrl = '';
  coordinatorPid: number | undefined;
  workerPids: number[] = [];
  /** The `weir run` client of the run in progress, if any. */
  clientPid: number | undefined;
  private up: ChildProcess | undefined;
  private client: ChildProcess | undefined;
  private tracked: Tracked[] = [];
  private output = '';

  constructor(
    private readonly natsUrl: string,
    private readonly workers = 2,
  ) {}

  private env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { ...process.env, WEIR_CLUSTER_ID: this.clusterId, WEIR_NATS_URL: this.natsUrl, WEIR_LOG_LEVEL: 'warn', ...extra };
  }

  async start(timeoutMs = 60_000): Promise<void> {
    const port = await freePort();
    const up = spawn(process.execPath, [CLI, 'cluster', 'up', '--workers', String(this.workers), '--rest-port', String(port)], {
      cwd: ROOT,
      env: this.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.up = up;
    up.stdout!.on('data', (d) => (this.output += d));
    up.stderr!.on('data', (d) => (this.output += d));
    const upStat = up.pid === undefined ? undefined : procStat(up.pid);
    if (up.pid !== undefined && upStat) this.tracked.push({ pid: up.pid, startTicks: upStat.startTicks });
    try {
      this.restUrl = await waitFor(
        'WEIR_REST_URL from `weir cluster up`',
        () => {
          if (up.exitCode !== null || up.signalCode !== null) throw new Error(`weir cluster up exited (${up.signalCode ?? up.exitCode})`);
          return /^WEIR_REST_URL=(\S+)$/m.exec(this.output)?.[1];
        },
        timeoutMs,
      );
      // Its children: the coordinator and the workers. Track them so they can be killed by pid.
      const children = await waitFor('the cluster processes', () => {
        const c = childrenOf(up.pid!);
        return c.length >= this.workers + 1 ? c : undefined;
      }, 10_000);
      for (const pid of children) {
        const s = procStat(pid);
        if (s) this.tracked.push({ pid, startTicks: s.startTicks });
      }
      this.workerPids = (await this.get<{ workers: { pid: number }[] }>('/workers')).workers.map((w) => w.pid);
      this.coordinatorPid = children.find((p) => !this.workerPids.includes(p));
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- cluster output ---\n${this.output}`);
    }
  }

  async get<T>(path: string): Promise<T> {
    const res = await fetch(new URL(path, this.restUrl), { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}: ${await res.text()}`);
    return (await res.json()) as T;
  }

  /**
   * `weir run examples/wordcount/src/job.ts -p 2 --arg source=generator --arg words=N --arg output=none --detach`
   * against this cluster, then the job followed to its end and its own figures read over REST. While it runs, the job's
   * data stream is polled for the frames published and the backlog.
   */
  async runWordcount(nc: NatsConnection, words: number, parallelism: number, timeoutMs: number): Promise<WordcountRun> {
    const jsm = await jetstreamManager(nc);
    const observed: Observed = { frames: 0, backlog: 0, samples: [] };
    let polling = true;
    const poller = (async () => {
      while (polling) {
        await this.observeDataStreams(jsm, observed).catch(() => undefined);
        await sleep(100);
      }
    })();

    // Detached: `weir run` submits and exits, and this process follows the job over REST. An
    // attached client would idle beside the job, but its own start-up tail (GC and compiler threads
    // after bundling, about 0.1-0.2 s of CPU) fell into the job's first 200 ms on these 2 cores.
    const args = ['run', WORDCOUNT, '-p', String(parallelism), '--arg', 'source=generator', '--arg', `words=${words}`, '--arg', 'output=none', '--detach'];
    let stdout = '';
    let stderr = '';
    const deadline = Date.now() + timeoutMs;
    let view: JobView | undefined;
    try {
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: this.env({ WEIR_REST_URL: this.restUrl }), stdio: ['ignore', 'pipe', 'pipe'] });
        this.client = child;
        this.clientPid = child.pid;
        child.stdout!.on('data', (d) => (stdout += d));
        child.stderr!.on('data', (d) => (stderr += d));
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`weir run --detach did not return within ${timeoutMs} ms\n${stderr}`));
        }, timeoutMs);
        child.on('error', (e) => (clearTimeout(timer), reject(e)));
        child.on('close', (c) => (clearTimeout(timer), resolve(c)));
      }).finally(() => {
        this.client = undefined;
        this.clientPid = undefined;
      });
      const id = /^([0-9a-zA-Z_-]+)\s*$/m.exec(stdout)?.[1];
      if (code !== 0 || !id) throw new Error(`weir run --detach exited ${code} without a job id\n${stderr}`);
      // Follow the job as `weir run` would (it polls every 250 ms), bounded by the run's timeout.
      for (;;) {
        view = await this.get<JobView>(`/jobs/${id}`);
        if (TERMINAL.has(view.state)) break;
        if (Date.now() > deadline) throw new Error(`wordcount job ${id} did not end within ${timeoutMs} ms (state ${view.state})`);
        await sleep(250);
      }
    } finally {
      polling = false;
      await withTimeout(poller, 15_000, 'the data stream poller').catch(() => undefined);
    }
    if (view.state !== 'FINISHED') throw new Error(`wordcount job ${view.id} ended ${view.state}: ${JSON.stringify(view.failure)}\n${stderr}`);
    const first = observed.samples[0];
    const last = observed.samples[observed.samples.length - 1];
    const framesPerSecond = first && last && last.t - first.t >= 300 ? ((last.seq - first.seq) * 1000) / (last.t - first.t) : undefined;
    return { view, framesPerSecond, framesSeen: observed.frames, peakBacklog: observed.backlog };
  }

  private async observeDataStreams(jsm: JetStreamManager, o: Observed): Promise<void> {
    const prefix = `WEIR_${this.clusterId}_`;
    let seq = 0;
    let backlog = 0;
    let found = false;
    for await (const s of jsm.streams.list()) {
      if (!s.config.name.startsWith(prefix)) continue;
      found = true;
      seq += s.state.last_seq;
      backlog += s.state.messages;
    }
    if (!found) return;
    // Only samples while frames flow: from the first frame, and not after the stream has gone.
    if (seq > 0) o.samples.push({ t: Date.now(), seq });
    o.frames = Math.max(o.frames, seq);
    o.backlog = Math.max(o.backlog, backlog);
  }

  /**
   * SIGTERM to `cluster up` (it stops its children), bounded; then SIGKILL by pid whatever of the
   * tree is left. Returns the pids that could not be confirmed gone (none, normally).
   */
  async stop(): Promise<number[]> {
    this.client?.kill('SIGKILL');
    const up = this.up;
    if (up && up.exitCode === null && up.signalCode === null) {
      up.kill('SIGTERM');
      await waitFor('`weir cluster up` to exit', () => (up.exitCode !== null || up.signalCode !== null ? true : undefined), 15_000, 50).catch(() => up.kill('SIGKILL'));
    }
    await waitFor('the cluster processes to exit', () => (this.tracked.some(alive) ? undefined : true), 5000, 50).catch(() => undefined);
    for (const p of this.tracked) killTracked(p, 'SIGKILL');
    await waitFor('killed cluster processes to go', () => (this.tracked.some(alive) ? undefined : true), 3000, 50).catch(() => undefined);
    return this.tracked.filter(alive).map((p) => p.pid);
  }

  /** Last resort on exit: SIGKILL by pid, synchronously. */
  killNow(): void {
    this.client?.kill('SIGKILL');
    for (const p of this.tracked) killTracked(p, 'SIGKILL');
  }

  /** Delete what this cluster id left on NATS: attempt streams and the artifact bucket. */
  async cleanupNats(nc: NatsConnection): Promise<void> {
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const s of jsm.streams.list()) {
      const name = s.config.name;
      if (name.startsWith(`WEIR_${this.clusterId}_`) || name === `OBJ_weir_${this.clusterId}_artifacts`) names.push(name);
    }
    for (const name of names) await jsm.streams.delete(name);
  }
}
