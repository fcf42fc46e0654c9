import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { isJobDefinition, WeirError, type JobDefinition } from '@weir/sdk';
import { subjects } from './subjects.js';

/** Where job bundles live, keyed by the SHA-256 of their bytes. */
export interface ArtifactStore {
  put(bytes: Uint8Array): Promise<string>;
  get(hash: string): Promise<Uint8Array>;
}

export const contentHash = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** For the embedded default: bundles kept in memory. */
export class MemoryArtifactStore implements ArtifactStore {
  private readonly blobs = new Map<string, Uint8Array>();
  async put(bytes: Uint8Array): Promise<string> {
    const hash = contentHash(bytes);
    this.blobs.set(hash, bytes);
    return hash;
  }
  async get(hash: string): Promise<Uint8Array> {
    const b = this.blobs.get(hash);
    if (!b) throw new WeirError('WEIR_ARTIFACT_NOT_FOUND', `no job bundle with hash ${hash}`);
    return b;
  }
}

/** Bundles in the NATS Object Store, so every worker can fetch them. */
export class ObjectStoreArtifacts implements ArtifactStore {
  private store: Promise<ObjectStore> | undefined;
  constructor(
    private readonly nc: NatsConnection,
    private readonly cluster: string,
  ) {}
  private bucket(): Promise<ObjectStore> {
    return (this.store ??= new Objm(this.nc).create(subjects.artifactBucket(this.cluster)));
  }
  async put(bytes: Uint8Array): Promise<string> {
    const hash = contentHash(bytes);
    const os = await this.bucket();
    if ((await os.info(hash)) === null) await os.putBlob({ name: hash }, bytes);
    return hash;
  }
  async get(hash: string): Promise<Uint8Array> {
    const b = await (await this.bucket()).getBlob(hash);
    if (!b) throw new WeirError('WEIR_ARTIFACT_NOT_FOUND', `no job bundle with hash ${hash} in bucket ${subjects.artifactBucket(this.cluster)}`);
    if (contentHash(b) !== hash) throw new WeirError('WEIR_ARTIFACT_CORRUPT', `job bundle ${hash} does not match its hash`);
    return b;
  }
}

/**
 * Make `<cacheDir>/<hash>.mjs` hold exactly `bytes`. A file already there is used only if its
 * content still has that hash: a crash mid-write, or a disk that lost a block, leaves a file that
 * would fail every import for ever. Written to a temporary file beside it and renamed, so another
 * process never imports half a file.
 */
function cacheBundle(bytes: Uint8Array, cacheDir: string, hash: string): string {
  const file = join(cacheDir, `${hash}.mjs`);
  let cached: Uint8Array | undefined;
  try {
    cached = readFileSync(file);
  } catch {
    cached = undefined; // not cached yet (or unreadable): written below
  }
  if (cached !== undefined && contentHash(cached) === hash) return file;
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(tmp, bytes);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new WeirError('WEIR_JOB_CACHE_UNWRITABLE', `cannot write the job bundle cache file ${file}: ${(e as Error).message}; make the directory writable (and give the disk room)`, { cause: e });
  }
  return file;
}

/**
 * Import a bundle as an ES module and return the job it exports. `source` names where the bundle
 * comes from in errors (default `job bundle <hash>`; `weir run` passes the job file).
 * @throws WeirError `WEIR_JOB_IMPORT_FAILED` when the module throws while it is imported (its top
 * level, or an import that cannot be resolved), `WEIR_JOB_NO_EXPORT` when it exports no job.
 */
export async function importJobBundle(bytes: Uint8Array, cacheDir: string, hash?: string, source?: string): Promise<JobDefinition> {
  const actual = contentHash(bytes);
  if (hash !== undefined && hash !== actual) throw new WeirError('WEIR_ARTIFACT_CORRUPT', `job bundle ${hash} does not match its hash (its bytes hash to ${actual})`);
  const file = cacheBundle(bytes, cacheDir, actual);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    const cause = e instanceof Error ? e.message : String(e);
    throw new WeirError('WEIR_JOB_IMPORT_FAILED', `${source ?? `job bundle ${actual}`} threw while it was imported: ${cause}; fix the module's top-level code or its imports`, { cause: e });
  }
  const def = mod.default ?? mod.job;
  if (!isJobDefinition(def)) {
    throw new WeirError('WEIR_JOB_NO_EXPORT', 'the job module does not export a job: add `export default defineJob({ name: ... }, (env, args) => ...)`');
  }
  return def;
}

/** Fetches and imports bundles once per hash. */
export class JobModuleCache {
  private readonly loaded = new Map<string, Promise<JobDefinition>>();
  constructor(
    private readonly store: ArtifactStore,
    private readonly cacheDir: string,
  ) {}
  load(hash: string): Promise<JobDefinition> {
    let p = this.loaded.get(hash);
    if (!p) {
      p = this.store.get(hash).then((b) => importJobBundle(b, this.cacheDir, hash));
      p.catch(() => this.loaded.delete(hash));
      this.loaded.set(hash, p);
    }
    return p;
  }
}
