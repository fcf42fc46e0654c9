/**
 * Snapshot store on Redis (standalone or one Cluster shard: every key of a job lives in one slot).
 * Fencing is done inside Lua scripts so a check and the writes it guards are one atomic step.
 */
import { randomBytes } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { WeirError } from '@weir/sdk';
import { redisJobKeys, type RedisJobKeys } from './redis-keys.js';
import { chainedWriteParts } from './savepoint-names.js';
import { redisSavepointKeys } from './savepoint-redis-keys.js';
import { checkExec, chunk, chunkBySize, DELETE_CHUNK, mgetBuffers, redisAddress, toBuffer, unlinkAll } from './redis-util.js';
import { assertBlobSizes, unavailableOnError } from './store-errors.js';
export { MAX_BLOB_BYTES } from './store-errors.js';
import type { BlobWrite, ChainedBlobWrite, CompletedCheckpoint, SnapshotStore } from './types.js';

const SCAN_COUNT = 1000;
/** SCAN always ends; the bound only turns a misbehaving server into an error instead of a hang. */
const MAX_SCAN_ROUNDS = 1_000_000;
/** latestCheckpoint reads the pointer and then the metadata; a concurrent removal may win in between. */
const LATEST_READ_TRIES = 3;

/** Each script answers `{1}` when done or `{0, storedAttempt}` when fenced (a reply, not an error, so pipelines stay simple). */
const CHECK_ATTEMPT = `
local stored = redis.call('GET', KEYS[1])
if not stored or tonumber(stored) ~= tonumber(ARGV[1]) then return {0, stored or ''} end`;

/**
 * How long a write's staged blobs live if its fenced step never runs (the writer died in between);
 * that step comes right behind them on the same connection.
 */
const STAGING_TTL_MS = 10 * 60_000;

/**
 * Below this average size per blob a chunk goes inline, as one script carrying the values: for
 * small blobs the commands cost more than the copies (a delta of 128 blobs of 1.1 kB took 4.3-5.6
 * ms staged against 2.9-3.1 ms inline; bench/README.md).
 */
const SMALL_BLOB_BYTES = 4096;

/**
 * Blobs are written as plain SETs under staging keys, then placed by a fenced script that renames
 * them (no copy). A script that carried the values as arguments cost Redis 1.9-2.4 ms of CPU per MB
 * (Lua copies each argument, SET copies it again), plain SETs about 0.5 ms (bench/README.md, "Plain
 * SETs for the blobs"); Redis serves no other client meanwhile. The script deletes the staged blobs
 * when it refuses, so a fenced writer leaves nothing behind.
 */
const DROP_STAGED = `
local function drop(from, to) for i = from, to do redis.call('UNLINK', KEYS[i]) end end`;

const SCRIPTS = {
  // KEYS[1] attempt; ARGV[1] attempt. Equal is fine: a restarted coordinator may fence twice.
  weirSnapshotFence: `
local stored = redis.call('GET', KEYS[1])
if stored and tonumber(stored) > tonumber(ARGV[1]) then return {0, stored} end
redis.call('SET', KEYS[1], ARGV[1])
return {1}`,
  // Small blobs (SMALL_BLOB_BYTES): the fence and the values in one script. KEYS[1] the fence (the
  // job's attempt, or a savepoint's pending marker), KEYS[2..n] blob keys; ARGV[1] attempt,
  // ARGV[2..n] blob values.
  weirSnapshotWrite: `${CHECK_ATTEMPT}
for i = 2, #KEYS do redis.call('SET', KEYS[i], ARGV[i]) end
return {1}`,
  // Places n staged blobs. KEYS[1] the fence (the job's attempt, or a savepoint's pending marker),
  // then the n staged blobs, then their n final keys; ARGV[1] attempt. {1} done, {0, stored} fenced,
  // {2, i} staged blob i (from 1) missing. Nothing is placed unless every check passed.
  weirSnapshotPlace: `${DROP_STAGED}
local n = (#KEYS - 1) / 2
local stored = redis.call('GET', KEYS[1])
if not stored or tonumber(stored) ~= tonumber(ARGV[1]) then drop(2, n + 1) return {0, stored or ''} end
for i = 2, n + 1 do
  if redis.call('EXISTS', KEYS[i]) == 0 then drop(2, n + 1) return {2, i - 1} end
end
for i = 2, n + 1 do
  redis.call('RENAME', KEYS[i], KEYS[n + i])
  redis.call('PERSIST', KEYS[n + i])
end
return {1}`,
  // Several savepoint key groups made from the job's chains. KEYS[1] savepoint pending marker, then
  // per key group: its n chain blobs in order, then its tail's part if it has one. ARGV[1] attempt,
  // ARGV[2] number of key groups, then per key group: n, tail ('' for none). {1, size, size, ...}
  // when done, {2, key} if a chain blob is missing. The chain blobs are only measured: the
  // savepoint refers to them until SavepointStore.copyReferences copies them in, after it
  // completed (copying them here, 10-20 MB for 1M keys, took a third of a savepoint's time). One
  // call for many key groups: a script each cost the busy worker more CPU and took 1.5-2x as long
  // in a side test of 64 key groups. The tails go inline, unlike other blobs (weirSnapshotPlace):
  // 64 SETs cost the busy worker more than Redis's copies save here (async part p50 16.5 against
  // 13.1 ms in 5 alternating bench runs).
  weirSnapshotChains: `${CHECK_ATTEMPT}
local k = 2
local sizes = {1}
for b = 1, tonumber(ARGV[2]) do
  local n = tonumber(ARGV[1 + 2 * b])
  local tail = ARGV[2 + 2 * b]
  local size = 0
  for i = 0, n - 1 do
    local part = redis.call('STRLEN', KEYS[k + i])
    if part == 0 then return {2, KEYS[k + i]} end
    size = size + part
  end
  k = k + n
  if #tail > 0 then
    redis.call('SET', KEYS[k], tail)
    size = size + #tail
    k = k + 1
  end
  sizes[b + 1] = size
end
return sizes`,
  // KEYS attempt, cp:<id>, cps, latest; ARGV attempt, id, json. The latest pointer never moves back.
  weirSnapshotCommit: `${CHECK_ATTEMPT}
redis.call('SET', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[2])
local latest = redis.call('GET', KEYS[4])
if not latest or tonumber(latest) < tonumber(ARGV[2]) then redis.call('SET', KEYS[4], ARGV[2]) end
return {1}`,
  // KEYS cps, latest, cp:<id>...; ARGV ids in the order of the cp keys.
  weirSnapshotRemove: `
local latest = redis.call('GET', KEYS[2])
local hit = false
for i = 1, #ARGV do
  redis.call('DEL', KEYS[i + 2])
  redis.call('ZREM', KEYS[1], ARGV[i])
  if latest and tonumber(latest) == tonumber(ARGV[i]) then hit = true end
end
if hit then
  local top = redis.call('ZRANGE', KEYS[1], -1, -1)
  if top[1] then redis.call('SET', KEYS[2], top[1]) else redis.call('DEL', KEYS[2]) end
end
return {1}`,
} as const;

type ScriptArg = string | Buffer | number;
/** The commands `defineCommand` adds; ioredis cannot type them (first argument: number of keys). */
type ScriptCommands = { [K in keyof typeof SCRIPTS]: (numKeys: number, ...args: ScriptArg[]) => Promise<unknown> };

/** Options of {@link RedisSnapshotStore}. */
export interface RedisSnapshotStoreOptions {
  /** Cluster id: namespaces the keys so several clusters (and tests) share one Redis. */
  readonly cluster: string;
  /** Quit the connection in `close()`. Default false: the caller owns the client. */
  readonly ownsConnection?: boolean;
}

/**
 * {@link SnapshotStore} on Redis via an ioredis client. Keys: see redis-keys.ts.
 *
 * The client decides how long a call may take when Redis is down: create it with
 * `maxRetriesPerRequest` set (e.g. 3; `null` makes calls wait for a reconnect forever) and
 * `enableOfflineQueue: false` to fail at once while disconnected. Connection and server errors
 * surface as `WEIR_SNAPSHOT_STORE_UNAVAILABLE` naming the Redis address.
 *
 * The store registers its Lua scripts on the client (`defineCommand`, names `weirSnapshot*`);
 * several stores may share one client.
 */
export class RedisSnapshotStore implements SnapshotStore {
  /**
   * One connection, served in order, and `writeBlobs` and `writeSavepointChains` send their
   * commands before their first await (each chunk's commands are written at once).
   * (ioredis sends a script as EVAL the first time on a connection; only a SCRIPT FLUSH on a live
   * connection could make it resend one later, and a chain check that ran early then finds a blob
   * missing and declines the savepoint: it never records a wrong one.)
   */
  readonly ordered = true;
  private readonly scripts: ScriptCommands;
  /** Staging keys of this store's writes: a random part per store, then a counter. */
  private readonly tokenPrefix = randomBytes(6).toString('hex');
  private staged = 0;

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisSnapshotStoreOptions,
  ) {
    redisJobKeys(options.cluster, 'probe'); // validates the cluster id now rather than on first use
    for (const [name, lua] of Object.entries(SCRIPTS)) redis.defineCommand(name, { lua });
    this.scripts = redis as unknown as ScriptCommands;
  }

  async fence(jobId: string, attempt: number): Promise<void> {
    const keys = this.keys(jobId);
    assertAttempt(attempt);
    const reply = await this.call('fence', () => this.scripts.weirSnapshotFence(1, keys.attempt, attempt));
    checkFence(reply, jobId, attempt, 'fence');
  }

  async writeBlobs(jobId: string, attempt: number, blobs: readonly BlobWrite[]): Promise<number> {
    const keys = this.keys(jobId);
    assertAttempt(attempt);
    assertBlobSizes(blobs, `job ${jobId}`);
    if (blobs.length === 0) return 0;
    // All calls are sent at once: ioredis writes them on the connection without waiting for replies.
    const replies = await this.call('writeBlobs', () => Promise.all(chunkBySize(blobs).map((chunk) => this.place(keys.attempt, keys.staging, keys.blob, chunk, attempt))));
    // Blobs of a refused chunk may sit beside written ones; names carry the attempt, so nothing newer is overwritten.
    for (const reply of replies) checkFence(reply, jobId, attempt, 'write blobs');
    return blobs.reduce((sum, b) => sum + b.bytes.byteLength, 0);
  }

  /**
   * SET each blob under a staging key of this call, then the fenced step that renames them to
   * their keys (small blobs: one fenced script with the values); every command is sent before this
   * returns. Resolves to the script's reply ({1} or {0, stored}); a staged blob gone before it was
   * placed (expired or evicted) is WEIR_SNAPSHOT_STORE_UNAVAILABLE naming it.
   */
  private place(fence: string, staging: (token: string, name: string) => string, final: (name: string) => string, chunk: readonly BlobWrite[], attempt: number): Promise<unknown> {
    if (chunk.reduce((n, b) => n + b.bytes.byteLength, 0) < SMALL_BLOB_BYTES * chunk.length) {
      return this.scripts.weirSnapshotWrite(1 + chunk.length, fence, ...chunk.map((b) => final(b.name)), attempt, ...chunk.map((b) => toBuffer(b.bytes)));
    }
    const token = this.stagingToken();
    // A name given twice is written once, with its last bytes (as two SETs in a row would leave it).
    const blobs = [...new Map(chunk.map((b) => [b.name, b])).values()];
    const script = [1 + 2 * blobs.length, fence, ...blobs.map((b) => staging(token, b.name)), ...blobs.map((b) => final(b.name)), attempt] as const;
    if (blobs.length === 1) {
      // A blob alone (one over the chunk size, or the only one written): no pipeline, whose buffer would copy it once more.
      const set = this.redis.set(staging(token, blobs[0]!.name), toBuffer(blobs[0]!.bytes), 'PX', STAGING_TTL_MS);
      return Promise.all([this.scripts.weirSnapshotPlace(...script), set]).then(([reply]) => placed(reply));
    }
    const pipeline = this.redis.pipeline();
    for (const b of blobs) pipeline.set(staging(token, b.name), toBuffer(b.bytes), 'PX', STAGING_TTL_MS);
    (pipeline as unknown as ScriptCommands).weirSnapshotPlace(...script);
    return this.send(pipeline).then(placed);
    function placed(reply: unknown): unknown {
      if (!Array.isArray(reply) || reply[0] !== 2) return reply;
      const key = final(blobs[(reply[1] as number) - 1]!.name);
      throw new WeirError('WEIR_SNAPSHOT_STORE_UNAVAILABLE', `the snapshot store lost the staged copy of ${key} before it was placed (expired or evicted); nothing of that write was placed`);
    }
  }

  /**
   * One write of the whole pipeline: ioredis encodes it into one buffer and writes it before exec
   * returns (64 SETs and a script: 2.2-2.4 ms to the reply on an idle machine, against 2.8-3.8 ms
   * as separate calls). Resolves to the last command's reply; a failed SET (e.g. Redis out of
   * memory) is the error reported, and the script then finds the blob missing.
   */
  private async send(pipeline: ChainableCommander): Promise<unknown> {
    return checkExec(await pipeline.exec()).at(-1);
  }

  /** Unique per call within this process; processes differ by their random part. */
  private stagingToken(): string {
    return `${this.tokenPrefix}${(this.staged++).toString(36)}`;
  }

  async writeSavepointBlobs(savepointId: string, attempt: number, blobs: readonly BlobWrite[]): Promise<number> {
    const keys = redisSavepointKeys(this.options.cluster, savepointId);
    assertAttempt(attempt);
    assertBlobSizes(blobs, savepointId);
    if (blobs.length === 0) return 0;
    // The same fenced write as a job's blobs, with the savepoint's pending marker as the fence.
    const replies = await this.call('writeSavepointBlobs', () => Promise.all(chunkBySize(blobs).map((part) => this.place(keys.pending, keys.staging, keys.blob, part, attempt))));
    for (const reply of replies) {
      if (Array.isArray(reply) && reply[0] === 0) {
        throw new WeirError('WEIR_SNAPSHOT_FENCED', `attempt ${attempt} may not write blobs of savepoint ${savepointId}: it is no longer being taken by that attempt (completed, abandoned, or never prepared)`);
      }
    }
    return blobs.reduce((sum, b) => sum + b.bytes.byteLength, 0);
  }

  async writeSavepointChains(jobId: string, savepointId: string, attempt: number, writes: readonly ChainedBlobWrite[]): Promise<number> {
    const job = this.keys(jobId);
    const sp = redisSavepointKeys(this.options.cluster, savepointId);
    assertAttempt(attempt);
    if (writes.length === 0) return 0;
    // A script per chunk of blobs, all sent at once; the job's and the savepoint's keys are in
    // different slots, which a standalone Redis allows (as the savepoint store's COPY does).
    const chunks = chunkBySize(writes, (w) => w.tail?.byteLength ?? 0);
    const replies = await this.call('writeSavepointChains', () =>
      Promise.all(
        chunks.map((chunk) => {
          const keys: string[] = [sp.pending];
          const args: (number | string | Buffer)[] = [attempt, chunk.length];
          for (const w of chunk) {
            keys.push(...w.chain.map((n) => job.blob(n)));
            if (w.tail) keys.push(sp.blob(chainedWriteParts(w).at(-1)!));
            args.push(w.chain.length, w.tail ? toBuffer(w.tail) : '');
          }
          return this.scripts.weirSnapshotChains(keys.length, ...keys, ...args);
        }),
      ),
    );
    let bytes = 0;
    replies.forEach((reply, c) => {
      const [code, ...detail] = reply as [number, ...(string | number)[]];
      if (code === 0) throw new WeirError('WEIR_SNAPSHOT_FENCED', `attempt ${attempt} may not write blobs of savepoint ${savepointId}: it is no longer being taken by that attempt (completed, abandoned, or never prepared)`);
      if (code === 2) {
        const missing = String(detail[0]).slice(job.prefix.length + 'blob:'.length);
        const w = chunks[c]!.find((x) => x.chain.includes(missing));
        throw new WeirError('WEIR_SNAPSHOT_MISSING', `blob '${missing}' of job ${jobId} is missing from the snapshot store (${redisAddress(this.redis)}); savepoint blob '${w?.name ?? '?'}' cannot be made from it`);
      }
      for (const size of detail) bytes += size as number;
    });
    return bytes;
  }

  async readBlobs(jobId: string, names: readonly string[]): Promise<Uint8Array[]> {
    const keys = this.keys(jobId);
    if (names.length === 0) return [];
    const values = await this.call('readBlobs', () => mgetBuffers(this.redis, names.map((n) => keys.blob(n))));
    const missing = values.findIndex((v) => v === null);
    if (missing >= 0) {
      throw new WeirError('WEIR_SNAPSHOT_MISSING', `blob '${names[missing]}' of job ${jobId} is missing from the snapshot store (${redisAddress(this.redis)}); the checkpoint cannot be restored`);
    }
    return values as Buffer[];
  }

  async deleteBlobs(jobId: string, names: readonly string[]): Promise<void> {
    const keys = this.keys(jobId);
    if (names.length === 0) return;
    await this.call('deleteBlobs', () => unlinkAll(this.redis, names.map((n) => keys.blob(n))));
  }

  async commitCheckpoint(jobId: string, attempt: number, checkpoint: CompletedCheckpoint): Promise<void> {
    const keys = this.keys(jobId);
    assertAttempt(attempt);
    const id = checkpoint.id;
    const reply = await this.call('commitCheckpoint', () =>
      this.scripts.weirSnapshotCommit(4, keys.attempt, keys.checkpoint(id), keys.checkpoints, keys.latest, attempt, id, JSON.stringify(checkpoint)),
    );
    checkFence(reply, jobId, attempt, `commit checkpoint ${id}`);
  }

  async removeCheckpoints(jobId: string, ids: readonly number[]): Promise<void> {
    const keys = this.keys(jobId);
    // One after the other: each call moves the latest pointer to what is left after it.
    for (const part of chunk(ids, DELETE_CHUNK)) {
      await this.call('removeCheckpoints', () =>
        this.scripts.weirSnapshotRemove(part.length + 2, keys.checkpoints, keys.latest, ...part.map((id) => keys.checkpoint(id)), ...part),
      );
    }
  }

  async latestCheckpoint(jobId: string): Promise<CompletedCheckpoint | undefined> {
    const keys = this.keys(jobId);
    for (let i = 0; i < LATEST_READ_TRIES; i++) {
      const latest = await this.call('latestCheckpoint', () => this.redis.get(keys.latest));
      if (latest === null) return undefined;
      const cp = await this.getCheckpoint(jobId, Number(latest));
      if (cp) return cp;
    }
    return undefined; // the pointer kept naming removed checkpoints: nothing stable to restore from
  }

  async getCheckpoint(jobId: string, id: number): Promise<CompletedCheckpoint | undefined> {
    const keys = this.keys(jobId);
    const json = await this.call('getCheckpoint', () => this.redis.get(keys.checkpoint(id)));
    return json === null ? undefined : (JSON.parse(json) as CompletedCheckpoint);
  }

  async listCheckpoints(jobId: string): Promise<number[]> {
    const keys = this.keys(jobId);
    const ids = await this.call('listCheckpoints', () => this.redis.zrange(keys.checkpoints, 0, -1));
    return ids.map(Number);
  }

  async deleteJob(jobId: string): Promise<void> {
    const keys = this.keys(jobId);
    await this.call('deleteJob', async () => {
      let cursor = '0';
      for (let round = 0; round < MAX_SCAN_ROUNDS; round++) {
        const [next, found] = await this.redis.scan(cursor, 'MATCH', keys.pattern, 'COUNT', SCAN_COUNT);
        if (found.length > 0) await this.redis.unlink(found);
        if (next === '0') return;
        cursor = next;
      }
      throw new Error(`SCAN did not finish within ${MAX_SCAN_ROUNDS} rounds`);
    });
  }

  /** Quits the client if the store owns it (`ownsConnection`); otherwise the caller closes it. */
  async close(): Promise<void> {
    if (!this.options.ownsConnection) return;
    // quit fails on a connection that already ended; then there is nothing left to close.
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private keys(jobId: string): RedisJobKeys {
    return redisJobKeys(this.options.cluster, jobId);
  }

  /** Runs one Redis interaction; anything but our own errors means Redis could not do it. */
  private call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    return unavailableOnError(() => `snapshot store Redis at ${redisAddress(this.redis)} failed ${op}`, fn);
  }
}

function assertAttempt(attempt: number): void {
  if (!Number.isSafeInteger(attempt) || attempt < 0) throw new RangeError(`attempt must be a non-negative integer, got ${attempt}`);
}

/** Turns a script's `{0, stored}` reply into WEIR_SNAPSHOT_FENCED. */
function checkFence(reply: unknown, jobId: string, attempt: number, what: string): void {
  if (!Array.isArray(reply) || reply[0] !== 0) return;
  const stored = String(reply[1] ?? '');
  const current = stored === '' ? 'no attempt (fence was never called)' : `attempt ${stored}`;
  throw new WeirError('WEIR_SNAPSHOT_FENCED', `attempt ${attempt} of job ${jobId} may not ${what}: the job's current attempt is ${current}`);
}
