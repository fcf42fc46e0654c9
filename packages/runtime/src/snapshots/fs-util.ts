/**
 * File helpers of the directory stores (file-store.ts, file-savepoint-store.ts): atomic writes and
 * links through a temporary name, optional reads, and loops that bound how many files are open.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, link, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';

/** Files read or written at once: enough to keep the disk busy without running out of descriptors. */
const IO_CONCURRENCY = 16;

/** Temp file in the same directory (rename is atomic only within one file system), flushed before the rename. */
export async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = tempName(path);
  try {
    await writeFile(tmp, data, { flush: true });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

/**
 * Makes `to` the same file as `from` (a hard link, or a copy across file systems) via a temporary
 * name renamed over `to`, so an existing `to` is replaced whole. Resolves with the file's size.
 */
export async function linkAtomic(from: string, to: string): Promise<number> {
  const tmp = tempName(to);
  try {
    try {
      await link(from, tmp);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw err;
      await copyFile(from, tmp);
    }
    const { size } = await stat(tmp);
    await rename(tmp, to);
    return size;
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

function tempName(path: string): string {
  return `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

/** The file's bytes, or undefined if there is no such file. */
export async function readOptional(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** `fn` of every item, at most IO_CONCURRENCY at once; the first failure stops taking new items and is thrown. */
export async function mapLimited<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        out[i] = await fn(items[i]);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  // allSettled: no file operation may still run once the caller (and its lock) has moved on, e.g. to clean up.
  const settled = await Promise.allSettled(Array.from({ length: Math.min(IO_CONCURRENCY, items.length) }, worker));
  const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return out;
}

export async function forEachLimited<T>(items: readonly T[], fn: (item: T) => Promise<unknown>): Promise<void> {
  await mapLimited(items, fn);
}
