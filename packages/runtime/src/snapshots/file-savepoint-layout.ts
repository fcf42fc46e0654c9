/**
 * Where a savepoint lives in a snapshot directory (embedded mode), in one place for the savepoint
 * store (coordinator) and the snapshot store (workers writing a detached savepoint's blobs):
 * `<dir>/savepoints/<spId>/blobs/<encodeURIComponent(name)>`, `meta.json`, and `pending` while a
 * detached savepoint is taken. The coordinator's job ids are 16 hex digits: none is `savepoints`.
 * An import is built in `<dir>/savepoints/.import-<spId>-<token>/` and renamed into place.
 */
import { join } from 'node:path';
import { assertSavepointId } from './savepoint-names.js';

export interface FileSavepointPaths {
  readonly dir: string;
  readonly blobs: string;
  blob(name: string): string;
  readonly meta: string;
  /** Holds the job attempt whose workers may write the blobs (the fence of a detached savepoint). */
  readonly pending: string;
}

/** The savepoints' root in snapshot directory `dir`. */
export function fileSavepointRoot(dir: string): string {
  return join(dir, 'savepoints');
}

/**
 * Where an import of savepoint `id` is built before it is renamed into place: beside the
 * savepoints, under a name no savepoint id has (lists skip it), unique to this import (`token`).
 */
export function fileSavepointStaging(dir: string, id: string, token: string): string {
  return join(fileSavepointRoot(dir), `.import-${assertSavepointId(id)}-${token}`);
}

/** Paths of savepoint `id` (checked with assertSavepointId) in snapshot directory `dir`. */
export function fileSavepointPaths(dir: string, id: string): FileSavepointPaths {
  const spDir = join(fileSavepointRoot(dir), assertSavepointId(id));
  const blobs = join(spDir, 'blobs');
  return { dir: spDir, blobs, blob: (name) => join(blobs, encodeURIComponent(name)), meta: join(spDir, 'meta.json'), pending: join(spDir, 'pending') };
}
