/**
 * Savepoint store on Redis, beside a RedisSnapshotStore on the same server. Blobs move between
 * the two namespaces with server-side COPY, so creating and materializing a savepoint of single-blob
 * chains moves no state bytes over the network.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { WeirError } from '@weir/sdk';
import { failPoint } from '../faults.js';
import { decodeExport } from './export-format.js';
import { redisJobKeys } from './redis-keys.js';
import { copyReferencePairs, parseReferences, type StoredReferences } from './redis-savepoint-references.js';
import { BLOB_SIZES, COMMIT_IMPORT, COMMIT_METADATA, REPLACE_METADATA, SEAL, SEAL_AND_COMMIT, SWEEP_ORPHAN } from './redis-savepoint-scripts.js';
import type { RedisSnapshotStore } from './redis-store.js';
import { allSettledOrThrow, checkExec, chunk, chunkBySize, mgetBuffers, mgetStrings, redisAddress, toBuffer, unlinkAll } from './redis-util.js';
import { assertSameJob, existingSavepoint, exportSavepointStream, mergeChains, savepointExists } from './savepoint-build.js';
import { compactSavepoint, type CompactionStorage, type SavepointCompaction } from './savepoint-compaction.js';
import { isSavepointId, materializePlan, MAX_SAVEPOINT_PARTS, newSavepointId, savepointBlobNames, savepointKeyGroupBlob, savepointMetadata, savepointPartName, savepointSources, takenSavepointNames, type SavepointBlobSource } from './savepoint-names.js';
import { redisSavepointIndex, redisSavepointKeys, type RedisSavepointKeys } from './savepoint-redis-keys.js';
import type { SavepointJobInfo, SavepointMetadata, SavepointReferences, SavepointStore } from './savepoint-types.js';
import { DISPOSE_READERS_WAIT_MS, SavepointUsers } from './savepoint-users.js';
import { unavailableOnError } from './store-errors.js';
import type { BlobWrite, CompletedCheckpoint } from './types.js';

/** Copies per pipeline: big enough to amortise round trips, small enough to keep replies small. */
const PIPELINE_CHUNK = 1000;

/**
 * How long an import's staged blobs live: long enough for any import (a 4 GiB file is written in
 * minutes), and those of a coordinator that died while importing do not stay forever.
 */
const IMPORT_STAGING_TTL_MS = 6 * 60 * 60_000;

/** Options of {@link RedisSavepointStore}. */
export interface RedisSavepointStoreOptions {
  /** Cluster id: the same as the snapshot store's, whose job keys the savepoints copy from and to. */
  readonly cluster: string;
  /** How long a disposal waits for the restores, exports and inspections reading the savepoint in this process (default 5 minutes). */
  readonly disposeWaitMs?: number;
}

/**
 * {@link SavepointStore} on Redis via an ioredis client connected to the same server (and database)
 * as `snapshots`. Keys: see savepoint-redis-keys.ts. Needs Redis 6.2 or newer (COPY).
 *
 * COPY and the metadata step touch keys of several hash tags (job, savepoint, index): this works on
 * a standalone Redis (or a sentinel-managed one), not on Redis Cluster.
 *
 * Errors of the connection or server surface as `WEIR_SNAPSHOT_STORE_UNAVAILABLE` naming the
 * Redis address. The caller owns the client: `close()` leaves it open.
 */
export class RedisSavepointStore implements SavepointStore {
  /** Readers and compactions in this process (the store's only writer of savepoints once taken). */
  private readonly users = new SavepointUsers();
  /** Savepoints this process is writing (create; prepare until complete or abandon): never orphans. */
  private readonly writing = new Set<string>();
  /** copyReferences under way, by savepoint id. */
  private readonly copying = new Map<string, Promise<void>>();

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisSavepointStoreOptions,
    private readonly snapshots: RedisSnapshotStore,
  ) {
    redisSavepointIndex(options.cluster); // validates the cluster id now rather than on first use
  }

  async create(checkpoint: CompletedCheckpoint, info: SavepointJobInfo): Promise<SavepointMetadata> {
    assertSameJob(checkpoint, info);
    const id = newSavepointId();
    const keys = this.keys(id);
    const sources = savepointSources(checkpoint);
    const sizes = new Map<string, number>();
    this.writing.add(id);
    try {
      await this.call('create a savepoint', async () => {
        const single = sources.filter((s) => s.chain.length === 1);
        await Promise.all(chunk(single, PIPELINE_CHUNK).map((part) => this.copyIn(checkpoint.jobId, keys, part, sizes)));
        await mergeChains(this.snapshots, checkpoint.jobId, sources, async (merged) => {
          const blobs = [...merged];
          for (const b of blobs) sizes.set(b.name, b.bytes.byteLength);
          await this.writeBlobs(keys.blob, blobs);
        });
      });
      const metadata = savepointMetadata(id, checkpoint, info, sizes, Date.now());
      await this.commitMetadata(metadata);
      return metadata;
    } catch (err) {
      // Nothing names these blobs yet: without the cleanup they would stay forever.
      await this.unlinkBlobs(keys, sources.map((s) => s.name)).catch(() => undefined);
      throw err;
    } finally {
      this.writing.delete(id);
    }
  }

  async prepare(id: string, attempt: number): Promise<void> {
    this.writing.add(id);
    const lost = (): never => {
      throw new WeirError('WEIR_SNAPSHOT_STORE_UNAVAILABLE', `savepoint store Redis at ${redisAddress(this.redis)}: the reply to the prepare step of savepoint ${id} was lost (WEIR_FAULT)`);
    };
    await this.call('prepare a savepoint', () => this.redis.set(this.keys(id).pending, String(attempt)).then((ok) => (failPoint('lose-savepoint-prepare-reply') ? lost() : ok))).catch((err: unknown) => {
      this.writing.delete(id); // an abandon of it finds nothing being written
      throw err;
    });
  }

  async complete(id: string, taken: CompletedCheckpoint, info: SavepointJobInfo, operatorBytes?: Readonly<Record<string, number>>, references?: SavepointReferences): Promise<SavepointMetadata> {
    assertSameJob(taken, info);
    const keys = this.keys(id);
    const names = takenSavepointNames(taken);
    try {
      const copies = references?.copies ?? [];
      if (copies.length > 0 && references!.jobId !== taken.jobId) throw new RangeError(`savepoint ${id} of job ${taken.jobId} refers to blobs of job ${references!.jobId}`);
      if (operatorBytes) return await this.sealAndCommit(id, names, savepointMetadata(id, taken, info, operatorBytes, Date.now()), copies.length > 0 ? references : undefined);
      // Without the workers' figures every size is read back: the parts are copied in first.
      if (copies.length > 0) await this.copyPairs(id, { jobId: references!.jobId, copies: copies.map((c) => [c.from, c.to]) }, false);
      // The fence goes in the same step as the size reads: no worker write can land after them.
      const [closed, lengths] = (await this.call('complete a savepoint', () => this.redis.eval(SEAL, 1 + names.length, keys.pending, ...names.map((n) => keys.blob(n))))) as [number, number[]];
      if (closed !== 1) throw new WeirError('WEIR_SAVEPOINT_NOT_FOUND', `savepoint ${id} is no longer being taken (abandoned); it cannot be completed`);
      const sizes = new Map<string, number>();
      names.forEach((n, i) => {
        const size = lengths[i]!;
        if (size === 0) throw new WeirError('WEIR_SNAPSHOT_MISSING', `blob '${n}' of savepoint ${id} was not written (${redisAddress(this.redis)}); the savepoint cannot be completed`);
        sizes.set(n, size);
      });
      const metadata = savepointMetadata(id, taken, info, sizes, Date.now());
      await this.commitMetadata(metadata);
      return metadata;
    } catch (err) {
      // A lost reply may hide a record step that ran: then nothing may be deleted (what an
      // unrecorded savepoint left is swept as an orphan later).
      if (!(err instanceof WeirError && err.code === 'WEIR_SNAPSHOT_STORE_UNAVAILABLE')) await this.unlinkBlobs(keys, names).catch(() => undefined);
      throw err;
    } finally {
      this.writing.delete(id);
    }
  }

  /**
   * The one-command record step: the metadata's sizes are the workers' figures, checked here against
   * the blobs, the savepoint's own and the job's it refers to (which are kept until copyReferences).
   */
  private async sealAndCommit(id: string, names: readonly string[], metadata: SavepointMetadata, references: SavepointReferences | undefined): Promise<SavepointMetadata> {
    const keys = this.keys(id);
    const index = redisSavepointIndex(this.options.cluster);
    const copies = references?.copies ?? [];
    const referenced = new Set(copies.map((c) => c.to));
    const all = new Set(names);
    const unknown = copies.find((c) => !all.has(c.to));
    if (unknown) throw new RangeError(`savepoint ${id} refers to '${unknown.from}' for '${unknown.to}', which is none of its blobs`);
    const own = names.filter((n) => !referenced.has(n));
    const job = references && redisJobKeys(this.options.cluster, references.jobId);
    const stored: StoredReferences | undefined = references && { jobId: references.jobId, copies: copies.map((c) => [c.from, c.to]) };
    const checked = [...own.map((n) => keys.blob(n)), ...copies.map((c) => job!.blob(c.from))];
    const [code, detail] = (await this.call('complete a savepoint', () =>
      this.redis.eval(SEAL_AND_COMMIT, 4, keys.pending, keys.meta, index, keys.references, JSON.stringify(metadata), metadata.createdAt, id, metadata.sizeBytes, stored ? JSON.stringify(stored) : '', checked.join('\n')),
    )) as [number, number | undefined];
    switch (code) {
      case 1:
        if (failPoint('lose-savepoint-record-reply')) throw new WeirError('WEIR_SNAPSHOT_STORE_UNAVAILABLE', `savepoint store Redis at ${redisAddress(this.redis)}: the reply to the record step of savepoint ${id} was lost (WEIR_FAULT)`);
        return metadata;
      case 0:
        throw new WeirError('WEIR_SAVEPOINT_NOT_FOUND', `savepoint ${id} is no longer being taken (abandoned); it cannot be completed`);
      case 2: {
        const i = detail! - 1;
        if (i < own.length) throw new WeirError('WEIR_SNAPSHOT_MISSING', `blob '${own[i]}' of savepoint ${id} was not written (${redisAddress(this.redis)}); the savepoint cannot be completed`);
        throw new WeirError('WEIR_SNAPSHOT_MISSING', `blob '${copies[i - own.length]!.from}' of job ${references!.jobId}, which savepoint ${id} is made of, is missing (${redisAddress(this.redis)}); the savepoint cannot be completed`);
      }
      case 3:
        throw savepointExists(id);
      default:
        throw new WeirError('WEIR_SNAPSHOT_CORRUPT', `savepoint ${id}: its blobs hold ${detail} bytes, but its workers reported ${metadata.sizeBytes} (${redisAddress(this.redis)}); the savepoint cannot be completed`);
    }
  }

  async abandon(id: string, names: readonly string[]): Promise<void> {
    const keys = this.keys(id);
    // Fence first, so no write lands after the deletes.
    try {
      await this.call('abandon a savepoint', () => this.redis.del(keys.pending));
    } finally {
      this.writing.delete(id); // what a failed abandon leaves is an orphan: swept later
    }
    await this.unlinkBlobs(keys, names);
  }

  async get(id: string): Promise<SavepointMetadata | undefined> {
    const json = await this.call('read a savepoint', () => this.redis.get(this.keys(id).meta));
    return json === null ? undefined : (JSON.parse(json) as SavepointMetadata);
  }

  async list(filter: { readonly jobName?: string } = {}): Promise<SavepointMetadata[]> {
    const index = redisSavepointIndex(this.options.cluster);
    const all = await this.call('list savepoints', async () => {
      // Equal scores come in descending id order, as the file store sorts them.
      const ids = await this.redis.zrevrange(index, 0, -1);
      return mgetStrings(this.redis, ids.map((id) => this.keys(id).meta));
    });
    return all.flatMap((json) => (json === null ? [] : [JSON.parse(json) as SavepointMetadata])).filter((m) => filter.jobName === undefined || m.jobName === filter.jobName);
  }

  async readBlobs(id: string, names: readonly string[]): Promise<Uint8Array[]> {
    return this.users.read(id, async () => {
      await this.copyReferences(id);
      return this.readRaw(id, names);
    });
  }

  copyReferences(id: string): Promise<void> {
    const keys = this.keys(id);
    const running = this.copying.get(id);
    if (running) return running;
    const run = (async () => {
      const json = await this.call('read what a savepoint refers to', () => this.redis.get(keys.references));
      if (json === null) return;
      await this.copyPairs(id, parseReferences(id, json), true);
      // Only once every part is there: a copy that stopped half way is done again by the next call.
      await this.call('copy a savepoint\'s parts in', () => this.redis.unlink(keys.references));
    })().finally(() => this.copying.delete(id));
    this.copying.set(id, run);
    return run;
  }

  /** COPY each referenced job blob into its part (copyReferencePairs); `stored`: only while the references are stored. */
  private async copyPairs(id: string, refs: StoredReferences, stored: boolean): Promise<void> {
    await this.call('copy a savepoint\'s parts in', () => copyReferencePairs(this.redis, id, this.keys(id), redisJobKeys(this.options.cluster, refs.jobId), refs, stored));
  }

  private async readRaw(id: string, names: readonly string[]): Promise<Uint8Array[]> {
    const keys = this.keys(id);
    if (names.length === 0) return [];
    const values = await this.call('read savepoint blobs', () => mgetBuffers(this.redis, names.map((n) => keys.blob(n))));
    const missing = values.findIndex((v) => v === null);
    if (missing >= 0) {
      await this.metadata(id); // an unknown savepoint is reported as such, not as a missing blob
      throw new WeirError('WEIR_SNAPSHOT_MISSING', `blob '${names[missing]}' of savepoint ${id} is missing from the savepoint store (${redisAddress(this.redis)})`);
    }
    return values as Buffer[];
  }

  async dispose(id: string): Promise<void> {
    const keys = this.keys(id);
    await this.users.alone(id, async () => {
      await this.metadata(id);
      await this.copying.get(id)?.catch(() => undefined); // its parts are deleted below, its references too
      // A restore or export under way would break off half way: it may finish first (bounded).
      await this.users.idle(id, this.options.disposeWaitMs ?? DISPOSE_READERS_WAIT_MS);
      const metadata = await this.metadata(id);
      // The references first, so no copy makes parts again; then the blobs: if this stops half
      // way, the metadata is still there and a second dispose finishes.
      await this.call('dispose a savepoint', () => this.redis.unlink(keys.references));
      // A compacted one: every part name of its key groups too, since a compaction whose readers
      // outlasted it (or that stopped after its metadata step) left the old parts.
      const leftovers =
        metadata.compactedAt === undefined
          ? []
          : Object.entries(metadata.operators).flatMap(([uid, op]) =>
              Object.keys(op.keyGroups).flatMap((g) => Array.from({ length: MAX_SAVEPOINT_PARTS - 1 }, (_, i) => savepointPartName(savepointKeyGroupBlob(uid, Number(g)), i + 1))),
            );
      await this.unlinkBlobs(keys, [...new Set([...savepointBlobNames(metadata), ...leftovers])]);
      await this.call('dispose a savepoint', () => this.redis.multi().unlink(keys.meta).zrem(redisSavepointIndex(this.options.cluster), id).exec().then(checkExec));
    });
  }

  async exportStream(id: string): Promise<AsyncIterable<Uint8Array>> {
    await this.metadata(id);
    await this.copyReferences(id);
    // The metadata is read again as a reader: a compaction between the two would have replaced it.
    return this.users.readStream(id, () => this.exportPieces(id));
  }

  private async *exportPieces(id: string): AsyncGenerator<Uint8Array> {
    yield* exportSavepointStream(await this.metadata(id), (names) => this.readRaw(id, names));
  }

  async compact(id: string, signal?: AbortSignal): Promise<SavepointCompaction | undefined> {
    const keys = this.keys(id);
    const storage: CompactionStorage = {
      readMeta: async () => (await this.call('read a savepoint', () => this.redis.get(keys.meta))) ?? undefined,
      // Inside the compaction's exclusive step, so a disposal waits for the copy and the compaction alike.
      readBlobs: async (names) => {
        await this.copyReferences(id);
        return this.readRaw(id, names);
      },
      writeBlobs: (blobs) => this.call('compact a savepoint', () => this.writeBlobs(keys.blob, blobs)),
      copyBlobs: (copies) =>
        this.call('compact a savepoint', async () => {
          const pipeline = this.redis.pipeline();
          for (const c of copies) pipeline.copy(keys.blob(c.from), keys.blob(c.to), 'REPLACE');
          const replies = checkExec(await pipeline.exec());
          const missing = replies.findIndex((copied) => copied !== 1);
          if (missing >= 0) throw new WeirError('WEIR_SNAPSHOT_MISSING', `blob '${copies[missing]!.from}' of savepoint ${id} is missing (${redisAddress(this.redis)}); it cannot be compacted`);
        }),
      blobSizes: (names) =>
        this.call('compact a savepoint', async () => (await Promise.all(chunk(names, PIPELINE_CHUNK).map((part) => this.redis.eval(BLOB_SIZES, part.length, ...part.map((n) => keys.blob(n))) as Promise<number[]>))).flat()),
      replaceMeta: async (expected, next) => (await this.call('compact a savepoint', () => this.redis.eval(REPLACE_METADATA, 1, keys.meta, expected, next))) === 1,
      deleteBlobs: (names) => this.unlinkBlobs(keys, names),
    };
    return compactSavepoint(id, storage, this.users, signal);
  }

  async importFile(bytes: Uint8Array): Promise<SavepointMetadata> {
    const { metadata, blobs } = decodeExport(bytes);
    const keys = this.keys(metadata.id);
    // Refused before any write when it plainly exists; the commit checks again, in the same step as it writes.
    const exists = await this.call('import a savepoint', () => this.redis.exists(keys.meta));
    if (exists) throw savepointExists(metadata.id);
    const imported: SavepointMetadata = { ...metadata, importedAt: Date.now() };
    // Staged under this import's own token: another import of the same id at the same time writes
    // elsewhere, and whichever commits second changes nothing of the first one's savepoint.
    const token = randomBytes(8).toString('hex');
    const staged = (name: string): string => keys.staged(token, name);
    const names = blobs.map((b) => b.name);
    try {
      await this.call('import a savepoint', () => this.writeBlobs(staged, blobs, IMPORT_STAGING_TTL_MS));
      const index = redisSavepointIndex(this.options.cluster);
      const [code, detail] = (await this.call('import a savepoint', () =>
        this.redis.eval(COMMIT_IMPORT, 2 + 2 * names.length, keys.meta, index, ...names.map(staged), ...names.map((n) => keys.blob(n)), JSON.stringify(imported), imported.createdAt, imported.id),
      )) as [number, number | undefined];
      if (code === 0) throw savepointExists(metadata.id);
      if (code === 2) throw new WeirError('WEIR_SNAPSHOT_MISSING', `blob '${names[detail! - 1]}' of the import of savepoint ${metadata.id} expired before the import could commit (${redisAddress(this.redis)}); import the file again`);
      return imported;
    } catch (err) {
      // Only this import's staged keys: a committed import's blobs were renamed away from them.
      await unlinkAll(this.redis, names.map(staged)).catch(() => undefined);
      throw err;
    }
  }

  async materialize(id: string, target: Parameters<SavepointStore['materialize']>[1]): Promise<CompletedCheckpoint> {
    return this.users.read(id, () => this.materializeAsReader(id, target));
  }

  private async materializeAsReader(id: string, target: Parameters<SavepointStore['materialize']>[1]): Promise<CompletedCheckpoint> {
    await this.copyReferences(id);
    const from = this.keys(id);
    const to = redisJobKeys(this.options.cluster, target.jobId);
    const metadata = await this.metadata(id);
    const { checkpoint, copies } = materializePlan(metadata, target, Date.now());
    // Every copy settles before a failure is reported: the caller deletes the job's keys then.
    await this.call('materialize a savepoint', () =>
      allSettledOrThrow(
        chunk(copies, PIPELINE_CHUNK).map(async (part) => {
          const pipeline = this.redis.pipeline();
          for (const c of part) pipeline.copy(from.blob(c.from), to.blob(c.to), 'REPLACE');
          const replies = checkExec(await pipeline.exec());
          const missing = replies.findIndex((copied) => copied !== 1);
          if (missing >= 0) throw new WeirError('WEIR_SNAPSHOT_MISSING', `blob '${part[missing].from}' of savepoint ${id} is missing from the savepoint store (${redisAddress(this.redis)}); it cannot be restored`);
        }),
      ),
    );
    await this.snapshots.commitCheckpoint(target.jobId, target.attempt, checkpoint);
    return checkpoint;
  }

  async sweepOrphans(olderThanMs: number): Promise<string[]> {
    const head = `weir:{${this.options.cluster}:`;
    const byId = new Map<string, string[]>();
    await this.call('look for orphaned savepoints', async () => {
      let cursor = '0';
      do {
        const [next, found] = await this.redis.scan(cursor, 'MATCH', `${head}sp-*`, 'COUNT', 1000);
        cursor = next;
        for (const key of found) {
          const id = key.slice(head.length, key.indexOf('}:', head.length));
          // An import's staged blobs expire by themselves; an import under way must keep them.
          if (!isSavepointId(id) || key.startsWith(`${this.keys(id).prefix}import:`)) continue;
          const keys = byId.get(id);
          if (keys) keys.push(key);
          else byId.set(id, [key]);
        }
      } while (cursor !== '0');
    });
    const swept: string[] = [];
    for (const [id, found] of byId) {
      const keys = this.keys(id);
      if (this.writing.has(id) || found.includes(keys.meta)) continue;
      const blobs = found.filter((k) => k !== keys.pending);
      const done = await this.call('delete an orphaned savepoint (its age is read with OBJECT IDLETIME, which an LFU maxmemory-policy does not track)', () => this.redis.eval(SWEEP_ORPHAN, 2 + blobs.length, keys.meta, keys.pending, ...blobs, Math.ceil(olderThanMs / 1000)));
      if (done === 1) swept.push(id);
    }
    return swept;
  }

  /** The Redis address and the prefix of the savepoint's keys. */
  location(id: string): string {
    return `${redisAddress(this.redis)} ${this.keys(id).prefix}`;
  }

  /** Nothing to release: the caller owns the client. */
  async close(): Promise<void> {}

  /** COPY one-blob chains from the job into the savepoint and learn their sizes (STRLEN), in one pipeline. */
  private async copyIn(jobId: string, keys: RedisSavepointKeys, part: readonly SavepointBlobSource[], sizes: Map<string, number>): Promise<void> {
    const job = redisJobKeys(this.options.cluster, jobId);
    const pipeline = this.redis.pipeline();
    for (const s of part) pipeline.copy(job.blob(s.chain[0]), keys.blob(s.name), 'REPLACE').strlen(keys.blob(s.name));
    const replies = checkExec(await pipeline.exec());
    part.forEach((s, i) => {
      if (replies[2 * i] !== 1) throw new WeirError('WEIR_SNAPSHOT_MISSING', `blob '${s.chain[0]}' of job ${jobId} is missing from the snapshot store (${redisAddress(this.redis)}); the savepoint cannot be taken`);
      sizes.set(s.name, replies[2 * i + 1] as number);
    });
  }

  /** SET of each blob under `key(name)`; expiring after `expireMs` if given. */
  private async writeBlobs(key: (name: string) => string, blobs: readonly BlobWrite[], expireMs?: number): Promise<void> {
    await allSettledOrThrow(
      chunkBySize(blobs).map(async (part) => {
        const pipeline = this.redis.pipeline();
        for (const b of part) {
          if (expireMs === undefined) pipeline.set(key(b.name), toBuffer(b.bytes));
          else pipeline.set(key(b.name), toBuffer(b.bytes), 'PX', expireMs);
        }
        checkExec(await pipeline.exec());
      }),
    );
  }

  private async unlinkBlobs(keys: RedisSavepointKeys, names: readonly string[]): Promise<void> {
    await this.call('delete savepoint blobs', () => unlinkAll(this.redis, names.map((n) => keys.blob(n))));
  }

  private async commitMetadata(metadata: SavepointMetadata): Promise<void> {
    const keys = this.keys(metadata.id);
    const index = redisSavepointIndex(this.options.cluster);
    const done = await this.call('store savepoint metadata', () => this.redis.eval(COMMIT_METADATA, 2, keys.meta, index, JSON.stringify(metadata), metadata.createdAt, metadata.id));
    if (done !== 1) throw savepointExists(metadata.id);
  }

  /** The metadata, or WEIR_SAVEPOINT_NOT_FOUND. */
  private metadata(id: string): Promise<SavepointMetadata> {
    return existingSavepoint(this, id);
  }

  private keys(id: string): RedisSavepointKeys {
    return redisSavepointKeys(this.options.cluster, id);
  }

  /** Runs one Redis interaction; anything but our own errors means Redis could not do it. */
  private call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    return unavailableOnError(() => `savepoint store Redis at ${redisAddress(this.redis)} failed to ${op}`, fn);
  }
}
