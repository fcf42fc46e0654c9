/**
 * Savepoint store in the directory of a FileSnapshotStore (embedded mode). Layout: see
 * file-savepoint-layout.ts, beside the snapshot store's `<dir>/<jobId>/blobs/...`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WeirError } from '@weir/sdk';
import { assertToken } from '../subjects.js';
import { fileSavepointPaths, fileSavepointRoot, fileSavepointStaging } from './file-savepoint-layout.js';
import { decodeExport } from './export-format.js';
import type { FileSnapshotStore } from './file-store.js';
import { forEachLimited, isNotFound, linkAtomic, mapLimited, readOptional, writeAtomic } from './fs-util.js';
import { assertSameJob, existingSavepoint, exportSavepointStream, mergeChains, savepointExists } from './savepoint-build.js';
import { compactSavepoint, type CompactionStorage, type SavepointCompaction } from './savepoint-compaction.js';
import { assertSavepointId, isSavepointId, materializePlan, newSavepointId, savepointMetadata, savepointSources, takenSavepointNames } from './savepoint-names.js';
import type { SavepointJobInfo, SavepointMetadata, SavepointStore } from './savepoint-types.js';
import { DISPOSE_READERS_WAIT_MS, SavepointUsers } from './savepoint-users.js';
import { unavailableOnError } from './store-errors.js';
import type { CompletedCheckpoint } from './types.js';

/** Options of {@link FileSavepointStore}. */
export interface FileSavepointStoreOptions {
  /** How long a disposal waits for the restores, exports and inspections reading the savepoint in this process (default 5 minutes). */
  readonly disposeWaitMs?: number;
}

/** An import building for this long is one whose coordinator died: as the Redis store's staged blobs expire. */
const STALE_IMPORT_MS = 6 * 60 * 60_000;

/**
 * {@link SavepointStore} in the directory `dir` that `snapshots` uses too. Blob files are
 * immutable (every store writes a temporary file and renames it over the target), so savepoints
 * and jobs share them through hard links: creating and materializing copy no bytes, and deleting a
 * job or a savepoint removes only its own links. Across file systems it falls back to copying.
 * Metadata is written last, atomically: a savepoint is listed only once it is complete.
 */
export class FileSavepointStore implements SavepointStore {
  private readonly root: string;
  /** Readers and compactions in this process (the store's only writer of savepoints once taken). */
  private readonly users = new SavepointUsers();
  /** Savepoints this process is writing (create; prepare until complete or abandon): never orphans. */
  private readonly writing = new Set<string>();

  constructor(
    private readonly dir: string,
    private readonly snapshots: FileSnapshotStore,
    private readonly options: FileSavepointStoreOptions = {},
  ) {
    this.root = fileSavepointRoot(dir);
  }

  async create(checkpoint: CompletedCheckpoint, info: SavepointJobInfo): Promise<SavepointMetadata> {
    assertSameJob(checkpoint, info);
    const id = newSavepointId();
    const jobBlobs = join(this.dir, assertToken('job id', checkpoint.jobId), 'blobs');
    const sources = savepointSources(checkpoint);
    const sizes = new Map<string, number>();
    this.writing.add(id);
    try {
      await this.io('create a savepoint', async () => {
        await mkdir(this.blobDir(id), { recursive: true });
        await forEachLimited(
          sources.filter((s) => s.chain.length === 1),
          async (s) => {
            const from = join(jobBlobs, encodeURIComponent(s.chain[0]));
            const copied = await linkAtomic(from, this.blobPath(id, s.name)).catch((err: unknown) => {
              if (!isNotFound(err)) throw err;
              throw new WeirError('WEIR_SNAPSHOT_MISSING', `blob '${s.chain[0]}' of job ${checkpoint.jobId} is missing from the snapshot store (${this.dir}); the savepoint cannot be taken`);
            });
            sizes.set(s.name, copied);
          },
        );
        await mergeChains(this.snapshots, checkpoint.jobId, sources, async (merged) => {
          for (const b of merged) {
            await writeAtomic(this.blobPath(id, b.name), b.bytes);
            sizes.set(b.name, b.bytes.byteLength);
          }
        });
      });
      const metadata = savepointMetadata(id, checkpoint, info, sizes, Date.now());
      await this.io('store savepoint metadata', () => writeAtomic(this.metaPath(id), JSON.stringify(metadata)));
      return metadata;
    } catch (err) {
      await rm(this.spDir(id), { recursive: true, force: true }).catch(() => undefined);
      throw err;
    } finally {
      this.writing.delete(id);
    }
  }

  async prepare(id: string, attempt: number): Promise<void> {
    const paths = fileSavepointPaths(this.dir, id);
    this.writing.add(id);
    await this.io('prepare a savepoint', async () => {
      await mkdir(paths.blobs, { recursive: true });
      await writeAtomic(paths.pending, String(attempt));
    }).catch((err: unknown) => {
      this.writing.delete(id); // an abandon of it finds nothing being written
      throw err;
    });
  }

  /** `references` are not needed here: the directory snapshot store hard-linked every part already. */
  async complete(id: string, taken: CompletedCheckpoint, info: SavepointJobInfo, operatorBytes?: Readonly<Record<string, number>>): Promise<SavepointMetadata> {
    assertSameJob(taken, info);
    const paths = fileSavepointPaths(this.dir, id);
    const names = takenSavepointNames(taken);
    try {
      const sizes = new Map<string, number>();
      await this.io('complete a savepoint', async () => {
        if ((await readOptional(paths.pending)) === undefined) throw new WeirError('WEIR_SAVEPOINT_NOT_FOUND', `savepoint ${id} is no longer being taken (abandoned); it cannot be completed`);
        await rm(paths.pending, { force: true });
        await forEachLimited(names, async (n) => {
          const size = await stat(paths.blob(n)).then(
            (st) => st.size,
            (err: unknown) => (isNotFound(err) ? 0 : Promise.reject(err)),
          );
          if (size === 0) throw new WeirError('WEIR_SNAPSHOT_MISSING', `blob '${n}' of savepoint ${id} was not written (${this.dir}); the savepoint cannot be completed`);
          sizes.set(n, size);
        });
      });
      // The files are measured anyway: the workers' figures are only checked against them.
      const reported = operatorBytes && Object.values(operatorBytes).reduce((a, b) => a + b, 0);
      const held = [...sizes.values()].reduce((a, b) => a + b, 0);
      if (reported !== undefined && reported !== held) throw new WeirError('WEIR_SNAPSHOT_CORRUPT', `savepoint ${id}: its blobs hold ${held} bytes, but its workers reported ${reported} (${this.dir}); the savepoint cannot be completed`);
      const metadata = savepointMetadata(id, taken, info, sizes, Date.now());
      await this.io('store savepoint metadata', () => writeAtomic(paths.meta, JSON.stringify(metadata)));
      return metadata;
    } catch (err) {
      await rm(paths.dir, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    } finally {
      this.writing.delete(id);
    }
  }

  /** Nothing to copy: the parts are hard links made while the savepoint was taken. */
  async copyReferences(id: string): Promise<void> {
    assertSavepointId(id);
  }

  async abandon(id: string): Promise<void> {
    // One directory holds all of it; the fence (pending) goes with it.
    try {
      await this.io('abandon a savepoint', () => rm(fileSavepointPaths(this.dir, id).dir, { recursive: true, force: true }));
    } finally {
      this.writing.delete(id); // what a failed abandon leaves is an orphan: swept later
    }
  }

  async sweepOrphans(olderThanMs: number): Promise<string[]> {
    const before = Date.now() - olderThanMs;
    const swept: string[] = [];
    const entries = await this.io('look for orphaned savepoints', () => readdir(this.root).catch((err: unknown) => (isNotFound(err) ? [] : Promise.reject(err))));
    for (const id of entries.filter(isSavepointId)) {
      if (this.writing.has(id)) continue;
      const paths = fileSavepointPaths(this.dir, id);
      const orphan = await this.io('look for orphaned savepoints', async () => {
        if ((await readOptional(paths.meta)) !== undefined) return false;
        // Touched lately (a blob written, the fence set): maybe still being taken.
        const files = [paths.dir, paths.blobs, paths.pending, ...(await readdir(paths.blobs).catch(() => [] as string[])).map((f) => join(paths.blobs, f))];
        for (const f of files) {
          const st = await stat(f).catch(() => undefined);
          if (st && Math.max(st.mtimeMs, st.ctimeMs) > before) return false;
        }
        return true;
      });
      if (!orphan) continue;
      await this.io('delete an orphaned savepoint', () => rm(paths.dir, { recursive: true, force: true }));
      swept.push(id);
    }
    return swept;
  }

  async get(id: string): Promise<SavepointMetadata | undefined> {
    const path = this.metaPath(id);
    const json = await this.io('read a savepoint', () => readOptional(path));
    return json === undefined ? undefined : (JSON.parse(json.toString('utf8')) as SavepointMetadata);
  }

  async list(filter: { readonly jobName?: string } = {}): Promise<SavepointMetadata[]> {
    const all = await this.io('list savepoints', async () => {
      const ids = (await readdir(this.root).catch((err: unknown) => (isNotFound(err) ? [] : Promise.reject(err)))).filter(isSavepointId);
      return mapLimited(ids, async (id) => {
        const json = await readOptional(this.metaPath(id)); // no metadata: being created or disposed
        return json === undefined ? undefined : (JSON.parse(json.toString('utf8')) as SavepointMetadata);
      });
    });
    return all
      .filter((m): m is SavepointMetadata => m !== undefined && (filter.jobName === undefined || m.jobName === filter.jobName))
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  }

  async readBlobs(id: string, names: readonly string[]): Promise<Uint8Array[]> {
    return this.users.read(id, () => this.readRaw(id, names));
  }

  private async readRaw(id: string, names: readonly string[]): Promise<Uint8Array[]> {
    assertSavepointId(id);
    const values = await this.io('read savepoint blobs', () => mapLimited(names, (n) => readOptional(this.blobPath(id, n))));
    const missing = values.findIndex((v) => v === undefined);
    if (missing >= 0) {
      await this.metadata(id); // an unknown savepoint is reported as such, not as a missing blob
      throw new WeirError('WEIR_SNAPSHOT_MISSING', `blob '${names[missing]}' of savepoint ${id} is missing from the savepoint store (${this.root})`);
    }
    return values as Buffer[];
  }

  async dispose(id: string): Promise<void> {
    await this.users.alone(id, async () => {
      await this.metadata(id);
      // A restore or export under way would break off half way: it may finish first (bounded).
      await this.users.idle(id, this.options.disposeWaitMs ?? DISPOSE_READERS_WAIT_MS);
      await this.metadata(id);
      const paths = fileSavepointPaths(this.dir, id);
      await this.io('dispose a savepoint', async () => {
        // All but the metadata first: if this stops half way, the metadata is still there and a second
        // dispose finishes. While the metadata is there, the directory is this savepoint's (an import
        // renames its own into place only over an empty one).
        for (const entry of await readdir(paths.dir)) if (entry !== 'meta.json') await rm(join(paths.dir, entry), { recursive: true, force: true });
        await rm(paths.meta, { force: true });
        // Not recursive: an import of the same id may have renamed its directory into place since.
        await rmdir(paths.dir).catch((err: unknown) => {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        });
      });
    });
  }

  async exportStream(id: string): Promise<AsyncIterable<Uint8Array>> {
    await this.metadata(id);
    // The metadata is read again as a reader: a compaction between the two would have replaced it.
    return this.users.readStream(id, () => this.exportPieces(id));
  }

  private async *exportPieces(id: string): AsyncGenerator<Uint8Array> {
    yield* exportSavepointStream(await this.metadata(id), (names) => this.readRaw(id, names));
  }

  async compact(id: string, signal?: AbortSignal): Promise<SavepointCompaction | undefined> {
    const paths = fileSavepointPaths(this.dir, id);
    const readMeta = async () => (await this.io('read a savepoint', () => readOptional(paths.meta)))?.toString('utf8');
    const storage: CompactionStorage = {
      readMeta,
      readBlobs: (names) => this.readRaw(id, names),
      writeBlobs: (blobs) => this.io('compact a savepoint', () => forEachLimited(blobs, (b) => writeAtomic(paths.blob(b.name), b.bytes))),
      // Blob files are immutable (always replaced by a rename): two names may share one.
      copyBlobs: (copies) => this.io('compact a savepoint', () => forEachLimited(copies, (c) => linkAtomic(paths.blob(c.from), paths.blob(c.to)))),
      blobSizes: (names) => this.io('compact a savepoint', () => mapLimited(names, async (n) => (await stat(paths.blob(n)).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e))))?.size ?? 0)),
      // Compare and write are two steps: safe because compaction and disposal run one at a time here (users.alone).
      replaceMeta: async (expected, next) => {
        if ((await readMeta()) !== expected) return false;
        await this.io('compact a savepoint', () => writeAtomic(paths.meta, next));
        return true;
      },
      deleteBlobs: (names) => this.io('compact a savepoint', () => forEachLimited(names, (n) => rm(paths.blob(n), { force: true }))),
    };
    return compactSavepoint(id, storage, this.users, signal);
  }

  async importFile(bytes: Uint8Array): Promise<SavepointMetadata> {
    const { metadata, blobs } = decodeExport(bytes);
    const id = metadata.id;
    if (await this.get(id)) throw savepointExists(id);
    const imported: SavepointMetadata = { ...metadata, importedAt: Date.now() };
    // Built beside the target and renamed into place: another import of the same id builds its own,
    // and a rename never replaces a savepoint's directory (it is not empty), so neither import
    // writes into or deletes what the other (or a listed savepoint) owns.
    await this.sweepStaleImports();
    const staging = fileSavepointStaging(this.dir, id, randomBytes(6).toString('hex'));
    const blobPath = (name: string): string => join(staging, 'blobs', encodeURIComponent(name));
    try {
      await this.io('import a savepoint', async () => {
        await mkdir(join(staging, 'blobs'), { recursive: true });
        await forEachLimited(blobs, (b) => writeAtomic(blobPath(b.name), b.bytes));
        await writeAtomic(join(staging, 'meta.json'), JSON.stringify(imported));
      });
      await this.moveIntoPlace(staging, id);
    } catch (err) {
      await rm(staging, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
    return imported;
  }

  /** Deletes what imports that never finished (their coordinator died) left, once no import can still be building it. */
  private async sweepStaleImports(): Promise<void> {
    const entries = await readdir(this.root).catch(() => [] as string[]);
    const before = Date.now() - STALE_IMPORT_MS;
    for (const entry of entries.filter((e) => e.startsWith('.import-'))) {
      const path = join(this.root, entry);
      const st = await stat(path).catch(() => undefined);
      if (st && st.mtimeMs < before) await rm(path, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** Renames a built import to savepoint `id`'s directory; WEIR_SAVEPOINT_EXISTS if that directory is taken. */
  private async moveIntoPlace(staging: string, id: string): Promise<void> {
    const paths = fileSavepointPaths(this.dir, id);
    try {
      await rename(staging, paths.dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') return this.io('import a savepoint', () => Promise.reject(err));
    }
    if (await this.get(id)) throw savepointExists(id);
    // Not listed, yet not empty: a savepoint being taken or disposed, or what a crash left. Left alone.
    throw new WeirError('WEIR_SAVEPOINT_EXISTS', `savepoint '${id}' cannot be imported: its directory ${paths.dir} exists without metadata (a savepoint being taken or disposed, or left by a crash); if neither is under way, delete that directory and import again`);
  }

  async materialize(id: string, target: Parameters<SavepointStore['materialize']>[1]): Promise<CompletedCheckpoint> {
    return this.users.read(id, () => this.materializeAsReader(id, target));
  }

  private async materializeAsReader(id: string, target: Parameters<SavepointStore['materialize']>[1]): Promise<CompletedCheckpoint> {
    const jobBlobs = join(this.dir, assertToken('job id', target.jobId), 'blobs');
    const metadata = await this.metadata(id);
    const { checkpoint, copies } = materializePlan(metadata, target, Date.now());
    await this.io('materialize a savepoint', async () => {
      await mkdir(jobBlobs, { recursive: true });
      await forEachLimited(copies, (c) =>
        linkAtomic(this.blobPath(id, c.from), join(jobBlobs, encodeURIComponent(c.to))).catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
          throw new WeirError('WEIR_SNAPSHOT_MISSING', `blob '${c.from}' of savepoint ${id} is missing from the savepoint store (${this.root}); it cannot be restored`);
        }),
      );
    });
    await this.snapshots.commitCheckpoint(target.jobId, target.attempt, checkpoint);
    return checkpoint;
  }

  /** The savepoint's directory. */
  location(id: string): string {
    return this.spDir(id);
  }

  async close(): Promise<void> {}

  /** The metadata, or WEIR_SAVEPOINT_NOT_FOUND. */
  private metadata(id: string): Promise<SavepointMetadata> {
    return existingSavepoint(this, id);
  }

  private spDir(id: string): string {
    return fileSavepointPaths(this.dir, id).dir;
  }

  private blobDir(id: string): string {
    return fileSavepointPaths(this.dir, id).blobs;
  }

  private blobPath(id: string, name: string): string {
    return fileSavepointPaths(this.dir, id).blob(name);
  }

  private metaPath(id: string): string {
    return fileSavepointPaths(this.dir, id).meta;
  }

  /** File system errors (no permission, disk full...) mean the store cannot do its job. */
  private io<T>(op: string, fn: () => Promise<T>): Promise<T> {
    return unavailableOnError(() => `savepoint store directory ${this.root} failed to ${op}`, fn);
  }
}
