/**
 * What the savepoint integration tests share: the job fixtures, and a kit per test file that runs
 * jobs, takes savepoints and resumes them on real processes, and deletes the streams, hashes and
 * clusters it made.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { FIXTURES, ProcessCluster, REDIS_URL, uniqueId, waitFor, weir } from './harness.js';
import { assertExact, deleteStream, publishKeys, publishMore, readHash } from './keys.js';

export const V1 = join(FIXTURES, 'sp-count.ts');
export const V2 = join(FIXTURES, 'sp-count-v2.ts');
export const FINISHED_SHARES = join(FIXTURES, 'finished-shares.ts');
export const CHURN = join(FIXTURES, 'sp-churn.ts');
/** A second cluster's Redis: another database of the same server. */
export const REDIS_DB1 = `${REDIS_URL.replace(/\/\d*$/, '')}/1`;
/** CPU burnt per record (loop iterations), so a job is still reading when a test stops it. */
export const SPIN = '30000';

/** Every key k0 … k4999 once (so every key's count is written again after a resume), plus extras. */
export function everyKey(extra: readonly string[] = []): string[] {
  return [...Array.from({ length: 5000 }, (_, i) => `k${i}`), ...extra];
}

export function addAll(expected: Map<string, number>, keys: readonly string[]): Map<string, number> {
  const out = new Map(expected);
  for (const k of keys) out.set(k, (out.get(k) ?? 0) + 1);
  return out;
}

export async function hgetall(hash: string): Promise<Record<string, string>> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    return await redis.hgetall(hash);
  } finally {
    redis.disconnect();
  }
}

/** Keys of a Redis server matching `pattern` (SCAN, bounded). */
export async function keysMatching(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  for (let i = 0; i < 1000; i++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
    if (cursor === '0') return found;
  }
  throw new Error(`SCAN ${pattern} did not end`);
}

/** `fn` with a Redis client of its own, disconnected afterwards. */
export async function withRedis<T>(fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

/** `weir savepoint <job>` on `c`: the id of the savepoint, once COMPLETED. */
export async function takeSavepoint(c: ProcessCluster, jobId: string): Promise<string> {
  const taken = await weir(['savepoint', jobId], c.env);
  assert.equal(taken.code, 0, taken.stderr);
  return taken.stdout.trim();
}

/** The Redis key of the job blobs savepoint `id` of `c` refers to until it copied them in. */
export const referencesKey = (c: ProcessCluster, id: string): string => `weir:{${c.clusterId}:${id}}:references`;

export async function waitForCheckpoint(c: ProcessCluster, jobId: string): Promise<void> {
  await waitFor('a completed checkpoint', async () => ((await c.rest('GET', `/jobs/${jobId}/checkpoints`)).body.counts.completed > 0 ? true : undefined), 60_000, 50);
}

export async function waitForHash(hash: string, expected: Map<string, unknown>, url = REDIS_URL): Promise<void> {
  await waitFor(`hash ${hash} complete`, async () => {
    const redis = new Redis(url, { maxRetriesPerRequest: 1 });
    try {
      const got = await redis.hgetall(hash);
      return Object.keys(got).length === expected.size && [...expected].every(([k, v]) => got[k] === String(v)) ? true : undefined;
    } finally {
      redis.disconnect();
    }
  }, 120_000, 250);
}

export async function run(c: ProcessCluster, file: string, p: number, args: Record<string, string>, extra: string[] = []): Promise<string> {
  const r = await weir(['run', file, '-p', String(p), '--detach', ...Object.entries(args).flatMap(([k, v]) => ['--arg', `${k}=${v}`]), ...extra], c.env);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

/** Run sp-count (or `file`) at p=1 on `c` until it has completed a checkpoint: its job id. */
export async function runUntilCheckpoint(c: ProcessCluster, args: { stream: string; hash: string }, file = V1, spin = SPIN): Promise<string> {
  const jobId = await run(c, file, 1, { ...args, spin });
  await waitForCheckpoint(c, jobId);
  return jobId;
}

/**
 * The streams, hashes, clusters and files one test file makes, deleted by `cleanup()`. Its
 * methods are bound: a test file may destructure them.
 */
export class SavepointKit {
  readonly tmp = mkdtempSync(join(tmpdir(), 'weir-sp-'));
  private readonly streams: string[] = [];
  private readonly hashes: { url: string; key: string }[] = [];

  /** `clusters` are stopped by cleanup(), with those faultyCluster adds. */
  constructor(private readonly clusters: ProcessCluster[] = []) {}

  /** A stream, its subject and an output hash of their own for `tag`, deleted by cleanup(). */
  readonly names = (tag: string, url = REDIS_URL) => {
    const id = uniqueId('');
    const stream = `ITSP_${tag}_${id}`;
    const hash = `it:sp:${tag}:${id}`;
    this.streams.push(stream);
    this.hashes.push({ url, key: hash });
    return { stream, subject: `itsp.${tag}.${id}`, hash };
  };

  /** An extra hash to delete at the end. */
  readonly track = (url: string, key: string): void => void this.hashes.push({ url, key });

  /** A cluster of its own: a coordinator with `fault` (WEIR_FAULT) and one worker of 2 slots. */
  readonly faultyCluster = async (fault: string, worker: string): Promise<ProcessCluster> => {
    const c = new ProcessCluster();
    this.clusters.push(c);
    await c.start([], { WEIR_FAULT: fault });
    c.startWorker(worker, {}, 2);
    await c.waitForWorkers(1);
    return c;
  };

  /**
   * A cluster of its own with `fault` (faultyCluster), and job 1 of V1 counting `published` keys of
   * its own stream, past its first checkpoint. `resume(c, p, id)` is resumeExact of those keys.
   */
  readonly faultyJob = async (tag: string, fault: string, worker: string, published: number) => {
    const io = this.names(tag);
    const expected = await publishKeys(io.stream, io.subject, published);
    const c = await this.faultyCluster(fault, worker);
    const job1 = await runUntilCheckpoint(c, { stream: io.stream, hash: io.hash });
    const resume = (on: ProcessCluster, p: number, id: string) => this.resumeExact(on, V1, p, id, { ...io, expected, published });
    return { c, job1, resume };
  };

  /**
   * Resume `file` on `c` from savepoint `id` into a fresh hash, with every key published once more
   * (the stream held `published` records): each count comes from the savepoint's state, and all
   * must be exact. The job is canceled at the end.
   */
  readonly resumeExact = async (c: ProcessCluster, file: string, p: number, id: string, at: { stream: string; subject: string; hash: string; expected: Map<string, number>; published: number }): Promise<void> => {
    const hash = `${at.hash}:resumed`;
    this.track(REDIS_URL, hash);
    const more = everyKey();
    await publishMore(at.stream, at.subject, more, at.published + more.length);
    const expected = addAll(at.expected, more);
    const job = await run(c, file, p, { stream: at.stream, hash, spin: '0' }, ['--from-savepoint', id]);
    await waitForHash(hash, expected);
    assertExact(await readHash(hash), expected);
    assert.equal((await weir(['cancel', job], c.env)).code, 0);
  };

  /** Stop every cluster, delete every stream, hash and file. */
  readonly cleanup = async (): Promise<void> => {
    for (const c of this.clusters) await c.stop();
    for (const s of this.streams) await deleteStream(s);
    for (const { url, key } of this.hashes) {
      const redis = new Redis(url, { maxRetriesPerRequest: 1 });
      await redis.del(key);
      redis.disconnect();
    }
    rmSync(this.tmp, { recursive: true, force: true });
  };
}
