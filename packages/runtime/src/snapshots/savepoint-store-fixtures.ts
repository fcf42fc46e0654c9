/**
 * Fixtures of the savepoint store tests (savepoint-store.test.ts, savepoint-detached.test.ts,
 * savepoint-store-backends.test.ts): every SavepointStore paired with its snapshot store, on Redis
 * (redis://127.0.0.1:6379, databases 0 and 1, a cluster id unique to each test, its keys deleted
 * afterwards; never flushed) and on fresh temp directories, and a checkpoint to take savepoints of.
 * Not a test file itself: the name matches none of the patterns `node --test` looks for.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Packr } from 'msgpackr';
import { FileSavepointStore } from './file-savepoint-store.js';
import { FileSnapshotStore } from './file-store.js';
import { keyGroupBlob, operatorStateBlob } from './names.js';
import { RedisSavepointStore } from './redis-savepoint-store.js';
import { RedisSnapshotStore } from './redis-store.js';
import { chainedWriteParts, newSavepointId, savepointBlobNames } from './savepoint-names.js';
import type { SavepointJobInfo, SavepointMetadata, SavepointReferences, SavepointStore } from './savepoint-types.js';
import { ROWS, scanAll } from './store-testing.js';
import type { ChainedBlobWrite, CompletedCheckpoint, SnapshotStore } from './types.js';

export const REDIS_URL = 'redis://127.0.0.1:6379';
/** A second database: "another Redis" for export and import. */
export const REDIS_URL_OTHER = 'redis://127.0.0.1:6379/1';
export const RUN = `sptest-${process.pid}-${Date.now()}`;
/** Every test is bounded: a hung store fails the test instead of the run. */
export const T = { timeout: 30_000 };
/** The state blob settings of snapshot-strategy.ts. */
export const statePackr = new Packr({ moreTypes: true });

/** A savepoint store with its snapshot store, on storage no other test uses. */
export interface Side {
  readonly snapshots: SnapshotStore;
  readonly savepoints: SavepointStore;
  /** Every savepoint key or file in the backing storage (the index included). */
  stored(): Promise<string[]>;
  /** Another savepoint store over the same storage, as a coordinator started after this one died would open. */
  another(): SavepointStore;
}

export interface Backend {
  readonly name: string;
  before(): Promise<void>;
  /** Fresh, empty stores; `other`: in another database or directory (for import); `options` of the savepoint store. */
  fresh(other?: boolean, options?: { readonly disposeWaitMs?: number }): Promise<Side>;
  /** Delete everything `fresh` made. */
  after(): Promise<void>;
}

export function redisBackend(): Backend {
  let main: Redis;
  let other: Redis;
  const made: { redis: Redis; cluster: string }[] = [];
  return {
    name: 'RedisSavepointStore',
    async before() {
      main = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, connectTimeout: 2_000 });
      other = new Redis(REDIS_URL_OTHER, { maxRetriesPerRequest: 2, connectTimeout: 2_000 });
    },
    async fresh(useOther = false, options = {}) {
      const redis = useOther ? other : main;
      const cluster = `${RUN}-${made.length}`;
      made.push({ redis, cluster });
      const snapshots = new RedisSnapshotStore(redis, { cluster });
      return {
        snapshots,
        savepoints: new RedisSavepointStore(redis, { cluster, ...options }, snapshots),
        another: () => new RedisSavepointStore(redis, { cluster, ...options }, snapshots),
        stored: async () => [...(await scanAll(redis, `weir:{${cluster}:sp-*`)), ...((await redis.exists(`weir:{${cluster}}:savepoints`)) ? ['index'] : [])],
      };
    },
    async after() {
      for (const { redis, cluster } of made) {
        for (const pattern of [`weir:{${cluster}:*`, `weir:{${cluster}}:*`]) {
          const keys = await scanAll(redis, pattern);
          if (keys.length > 0) await redis.unlink(keys);
        }
      }
      await main.quit();
      await other.quit();
    },
  };
}

export function fileBackend(): Backend {
  const dirs: string[] = [];
  return {
    name: 'FileSavepointStore',
    async before() {},
    async fresh(_other = false, options = {}) {
      const dir = await mkdtemp(join(tmpdir(), 'weir-savepoints-'));
      dirs.push(dir);
      const snapshots = new FileSnapshotStore(dir);
      return {
        snapshots,
        savepoints: new FileSavepointStore(dir, snapshots, options),
        another: () => new FileSavepointStore(dir, snapshots, options),
        stored: async () => {
          const ids = await readdir(join(dir, 'savepoints')).catch(() => []);
          return (await Promise.all(ids.map(async (id) => [id, ...(await readdir(join(dir, 'savepoints', id), { recursive: true })).map((f) => `${id}/${f}`)]))).flat();
        },
      };
    },
    async after() {
      for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    },
  };
}

export const INFO = (jobId: string, jobName = 'wordcount'): SavepointJobInfo => ({
  jobId,
  jobName,
  jobVersion: '1.2.0',
  reason: 'manual',
  operators: {
    counter: { kind: 'actor', keyed: true, state: { count: 'value', seen: 'set' } },
    src: { kind: 'source', keyed: false },
    sink: { kind: 'sink', keyed: false },
  },
});

/**
 * Writes checkpoint 5 of `jobId` (attempt 1) through the snapshot store: a keyed actor with one-blob
 * chains, a base + 2 deltas chain (`withChain`) and an empty base; a source and a sink with
 * operator state. Returns it with its blobs by name.
 */
export async function writeCheckpoint(snapshots: SnapshotStore, jobId: string, withChain = true): Promise<{ checkpoint: CompletedCheckpoint; blobs: Map<string, Uint8Array> }> {
  const blobs = new Map<string, Uint8Array>([
    [keyGroupBlob('counter', 0, 1, 5, 'base'), statePackr.pack({ v: 1, base: true, entries: ROWS.g0 })],
    [keyGroupBlob('counter', 2, 1, 5, 'base'), statePackr.pack({ v: 1, base: true, entries: [] })],
    [operatorStateBlob('src', 0, 1, 5), statePackr.pack({ v: 1, value: { seq: 42 } })],
    [operatorStateBlob('src', 1, 1, 5), statePackr.pack({ v: 1, value: { seq: 7 } })],
    [operatorStateBlob('sink', 0, 1, 5), statePackr.pack({ v: 1, row: { pending: ['t1'] } })],
  ]);
  const g1: string[] = [keyGroupBlob('counter', 1, 1, 3, 'base'), keyGroupBlob('counter', 1, 1, 4, 'delta'), keyGroupBlob('counter', 1, 1, 5, 'delta')];
  if (withChain) {
    blobs.set(g1[0], statePackr.pack({ v: 1, base: true, entries: ROWS.g1Base }));
    blobs.set(g1[1], statePackr.pack({ v: 1, base: false, entries: ROWS.g1Delta1 }));
    blobs.set(g1[2], statePackr.pack({ v: 1, base: false, entries: ROWS.g1Delta2 }));
  }
  await snapshots.fence(jobId, 1);
  await snapshots.writeBlobs(jobId, 1, [...blobs].map(([name, bytes]) => ({ name, bytes })));
  const checkpoint: CompletedCheckpoint = {
    formatVersion: 1,
    id: 5,
    jobId,
    attempt: 1,
    timestamp: 1_700_000_000_000,
    completedAt: 1_700_000_000_100,
    operators: {
      counter: {
        maxParallelism: 8,
        parallelism: 2,
        keyGroups: withChain ? { 0: [keyGroupBlob('counter', 0, 1, 5, 'base')], 1: g1, 2: [keyGroupBlob('counter', 2, 1, 5, 'base')] } : { 0: [keyGroupBlob('counter', 0, 1, 5, 'base')], 2: [keyGroupBlob('counter', 2, 1, 5, 'base')] },
        operatorState: {},
      },
      src: { maxParallelism: 2, parallelism: 2, keyGroups: {}, operatorState: { 0: operatorStateBlob('src', 0, 1, 5), 1: operatorStateBlob('src', 1, 1, 5) } },
      sink: { maxParallelism: 1, parallelism: 1, keyGroups: {}, operatorState: { 0: operatorStateBlob('sink', 0, 1, 5) } },
    },
    finished: [],
    stateBytes: 0,
    writtenBytes: 0,
  };
  await snapshots.commitCheckpoint(jobId, 1, checkpoint);
  return { checkpoint, blobs };
}

/** Key group 1's rows in the savepoint `partedSavepoint` takes: the job's chain, then the tail's changes. */
export const G1 = [...ROWS.g1Merged.map(([k, v]) => (k === 'x' ? ['x', { n: 99 }] : [k, v])), ['v', { n: 5 }]];

/** The references a coordinator hands to `complete` for these chained writes of job `jobId` (as savepointReferences does). */
export function chainReferences(jobId: string, writes: readonly ChainedBlobWrite[]): SavepointReferences {
  return { jobId, copies: writes.flatMap((w) => w.chain.map((from, i) => ({ from, to: chainedWriteParts(w)[i]! }))) };
}

/**
 * A detached savepoint of a job whose key group 1 is a base and two deltas, plus a tail: 4 parts.
 * Recorded as the coordinator does (the workers' bytes and the chains' references), not copied in:
 * the first reader makes the Redis one self-contained.
 */
export async function partedSavepoint(side: Pick<Side, 'snapshots' | 'savepoints'>, jobId: string): Promise<SavepointMetadata> {
  const { snapshots, savepoints } = side;
  const { checkpoint } = await writeCheckpoint(snapshots, jobId);
  const g0 = checkpoint.operators.counter!.keyGroups[0]!;
  const g1 = checkpoint.operators.counter!.keyGroups[1]!;
  const tail = statePackr.pack({ v: 1, base: false, flat: ['x', { n: 99 }, 'v', { n: 5 }] });
  const writes = [{ name: 'ks/counter/1', chain: g1, tail }, { name: 'ks/counter/0', chain: g0 }];
  const id = newSavepointId();
  await savepoints.prepare(id, 1);
  const bytes = await snapshots.writeSavepointChains(jobId, id, 1, writes);
  const taken: CompletedCheckpoint = {
    formatVersion: 1, id: 6, jobId, attempt: 1, timestamp: 1, completedAt: 2, finished: [], stateBytes: 0, writtenBytes: 0,
    operators: { counter: { parallelism: 1, maxParallelism: 8, keyGroups: { 0: ['ks/counter/0'], 1: chainedWriteParts(writes[0]!) }, operatorState: {} } },
  };
  const sp = await savepoints.complete(id, taken, INFO(jobId), { counter: bytes }, chainReferences(jobId, writes));
  assert.deepEqual(sp.operators.counter!.keyGroupParts, { 1: 4 });
  return sp;
}

/**
 * Holds the first call of `target[method]` (a private one too) until `release()`: before it runs,
 * or (`after`) once it has run, before its result is handed back. `entered` resolves when it is
 * held. Later calls pass through.
 */
export function stallFirstCall(target: object, method: string, after = false): { entered: Promise<void>; release(): void } {
  const t = target as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = t[method]!.bind(target);
  let entered!: () => void;
  let release!: () => void;
  const enteredP = new Promise<void>((r) => (entered = r));
  const gate = new Promise<void>((r) => (release = r));
  let first = true;
  t[method] = async (...args: unknown[]) => {
    if (!first) return original(...args);
    first = false;
    const result = after ? await original(...args) : undefined;
    entered();
    await gate;
    return after ? result : original(...args);
  };
  return { entered: enteredP, release };
}

/** Canonical name -> bytes of every blob of savepoint `id`. */
export async function savepointBlobs(store: SavepointStore, id: string): Promise<Map<string, Buffer>> {
  const metadata = (await store.get(id))!;
  const names = savepointBlobNames(metadata);
  const bytes = await store.readBlobs(id, names);
  return new Map(names.map((n, i) => [n, Buffer.from(bytes[i])]));
}

export function canonical(name: string): string {
  const [kind, uid, n] = name.split('/');
  return `${kind}/${uid}/${n}`;
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
