/**
 * How long another client of the same Redis waits while something runs: a PING on a connection of
 * its own, one after the other with a short pause, each timed to its reply. A script or command
 * that blocks Redis shows as one long round trip; the CPU the machine lends the bench shows too,
 * so the figures are read against the same probe over a quiet window.
 */
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { sleep, withTimeout } from './util.js';

/** Pause between two PINGs (ms). */
const PAUSE_MS = 5;

export interface ProbeFigures {
  readonly pings: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Round trips over 10 ms. */
  readonly over10Ms: number;
}

export class RedisProbe {
  /** [wall-clock ms when sent, round trip ms] */
  private readonly rtts: [number, number][] = [];
  private running = false;
  /** Why the loop stopped early, if it did. */
  error: unknown;
  private loop: Promise<void> | undefined;
  private redis: Redis | undefined;

  constructor(private readonly url: string) {}

  async start(): Promise<void> {
    this.redis = new Redis(this.url, { maxRetriesPerRequest: 1, connectTimeout: 5000, lazyConnect: true });
    await withTimeout(this.redis.connect(), 5000, `connecting to ${this.url}`);
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const at = Date.now();
        const t = performance.now();
        await withTimeout(this.redis!.ping(), 10_000, 'a PING of the probe');
        this.rtts.push([at, performance.now() - t]);
        await sleep(PAUSE_MS);
      }
    })().catch((e: unknown) => void (this.error = e));
  }

  /** The round trips sent from `from` to `to` (wall-clock ms). */
  figures(from: number, to: number): ProbeFigures | undefined {
    const s = this.rtts.filter(([at]) => at >= from && at <= to).map(([, rtt]) => rtt).sort((a, b) => a - b);
    if (s.length === 0) return undefined;
    const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
    return { pings: s.length, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: s[s.length - 1]!, over10Ms: s.filter((x) => x > 10).length };
  }

  /** Synchronous last resort: drop the connection. */
  kill(): void {
    this.running = false;
    this.redis?.disconnect();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.redis?.quit().catch(() => this.redis?.disconnect());
  }
}
