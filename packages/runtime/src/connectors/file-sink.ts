/**
 * The file sink, with Flink FileSink semantics.
 *
 * - `exactly-once` (default): records go to hidden in-progress part files; at a checkpoint barrier
 *   the open part is closed, and the parts of the transaction are flushed, fsynced and renamed to
 *   hidden pending names (the checkpoint waits for that); when the checkpoint completes they are
 *   renamed to their final, visible, deterministic names. A restore deletes what the failed attempt
 *   left behind (in-progress parts, pending parts of no restored transaction), then commits the
 *   restored transactions again (idempotent).
 * - `at-least-once`: lines are appended to `<prefix>-<subtask>`, fsynced at every checkpoint;
 *   after a recovery the replayed records are appended again.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { WeirError } from '@weir/sdk';
import { FINAL_TRANSACTION, type ConnectorContext, type PreCommitted, type TransactionalSinkWriter } from './types.js';

export const DEFAULT_ROLLOVER_BYTES = 128 * 1024 * 1024;
export const DEFAULT_ROLLOVER_MS = 60_000;

/** The options of a `file` sink spec (the SDK's FileSinkOptions). */
export interface FileSinkConfig {
  readonly directory: string;
  readonly format?: (v: unknown) => string;
  readonly delivery?: 'exactly-once' | 'at-least-once';
  readonly rolloverBytes?: number;
  readonly rolloverMs?: number;
  readonly prefix?: string;
}

/** One exactly-once transaction: pending part files (names in the directory) and their final names. */
export interface FileSinkTransaction {
  readonly files: readonly { readonly pending: string; readonly final: string }[];
}

const json = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;

function invalid(message: string): WeirError {
  return new WeirError('WEIR_SINK_OPTIONS_INVALID', message);
}

function validate(o: FileSinkConfig, uid: string): Required<Omit<FileSinkConfig, 'format'>> & { format: (v: unknown) => string } {
  if (typeof o?.directory !== 'string' || o.directory === '') throw invalid(`file sink '${uid}' needs a directory`);
  const delivery = o.delivery ?? 'exactly-once';
  if (delivery !== 'exactly-once' && delivery !== 'at-least-once') {
    throw invalid(`file sink '${uid}': delivery is '${String(delivery)}'; use 'exactly-once' or 'at-least-once'`);
  }
  const rolloverBytes = o.rolloverBytes ?? DEFAULT_ROLLOVER_BYTES;
  if (!(Number.isFinite(rolloverBytes) && rolloverBytes > 0)) throw invalid(`file sink '${uid}': rolloverBytes is ${String(rolloverBytes)}; it must be a positive number`);
  const rolloverMs = o.rolloverMs ?? DEFAULT_ROLLOVER_MS;
  if (!(Number.isFinite(rolloverMs) && rolloverMs > 0)) throw invalid(`file sink '${uid}': rolloverMs is ${String(rolloverMs)}; it must be a positive number`);
  const prefix = o.prefix ?? 'part';
  if (typeof prefix !== 'string' || prefix === '' || prefix.startsWith('.') || /[/\\]/.test(prefix)) {
    throw invalid(`file sink '${uid}': prefix '${String(prefix)}' must be a non-empty file name part, not starting with '.' and without '/' or '\\'`);
  }
  return { directory: o.directory, delivery, rolloverBytes, rolloverMs, prefix, format: o.format ?? json };
}

function unwritable(uid: string, path: string, e: unknown): WeirError {
  if (e instanceof WeirError) return e;
  return new WeirError('WEIR_SINK_FILE_UNWRITABLE', `file sink '${uid}' cannot write '${path}': ${(e as Error).message}`, { cause: e });
}

/** fsync a directory so renames in it are durable (best effort: not every platform can). */
async function syncDirectory(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // e.g. EISDIR/EPERM on platforms that cannot open or fsync a directory
  } finally {
    await fh?.close().catch(() => {});
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Name of the k-th finished file of checkpoint `checkpointId`'s transaction. */
export function finishedFileName(prefix: string, subtask: number, checkpointId: number, k: number): string {
  const cp = checkpointId === FINAL_TRANSACTION ? 'final' : String(checkpointId).padStart(10, '0');
  return `${prefix}-${subtask}-${cp}-${k}`;
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A sink factory: `file`. */
export async function fileSink(options: FileSinkConfig, ctx: ConnectorContext): Promise<TransactionalSinkWriter<FileSinkTransaction | null>> {
  const o = validate(options, ctx.operatorUid);
  try {
    await mkdir(o.directory, { recursive: true });
    await access(o.directory, constants.W_OK | constants.X_OK);
  } catch (e) {
    throw unwritable(ctx.operatorUid, o.directory, e);
  }
  return o.delivery === 'at-least-once' ? appendingWriter(o, ctx) : new ExactlyOnceFileWriter(o, ctx);
}

/** at-least-once: appends to `<prefix>-<subtask>`; a checkpoint waits for an fsync. */
async function appendingWriter(o: ReturnType<typeof validate>, ctx: ConnectorContext): Promise<TransactionalSinkWriter<null>> {
  const path = join(o.directory, `${o.prefix}-${ctx.subtask}`);
  let fh: FileHandle;
  try {
    fh = await open(path, 'a');
  } catch (e) {
    throw unwritable(ctx.operatorUid, path, e);
  }
  let tail: Promise<void> = Promise.resolve();
  return {
    write(records) {
      if (records.length === 0) return;
      let text = '';
      for (const r of records) text += o.format(r) + '\n';
      return (tail = tail.then(() => fh.writeFile(text)).catch((e) => {
        throw unwritable(ctx.operatorUid, path, e);
      }));
    },
    // Not transactional: a checkpoint only makes what was written durable (no record written
    // before the barrier is lost once the checkpoint completes).
    preCommit(): PreCommitted<null> {
      const durable = tail.then(() => fh.sync()).catch((e) => {
        throw unwritable(ctx.operatorUid, path, e);
      });
      return { txn: null, durable };
    },
    async commit() {},
    async close() {
      await tail.catch(() => {});
      await fh.close();
    },
  };
}

/** An in-progress part file of the exactly-once writer. */
interface Part {
  /** File names in the directory. */
  readonly inProgress: string;
  readonly pending: string;
  readonly openedAt: number;
  bytes: number;
  readonly handle: Promise<FileHandle>;
  /** The last write queued. */
  tail: Promise<void>;
}

class ExactlyOnceFileWriter implements TransactionalSinkWriter<FileSinkTransaction> {
  /** Unique per writer instance, so part files of different attempts never collide. */
  private readonly session = `${Date.now()}-${randomBytes(4).toString('hex')}`;
  private seq = 0;
  private current: Part | undefined;
  /** Parts of the open transaction that were rolled (closed) already. */
  private rolled: Part[] = [];
  /** Pending file name → its flush, fsync and rename (in flight or done, not yet committed). */
  private readonly finishing = new Map<string, Promise<void>>();
  /** This subtask's in-progress and pending files (of any attempt). */
  private readonly own: RegExp;

  constructor(
    private readonly o: ReturnType<typeof validate>,
    private readonly ctx: ConnectorContext,
  ) {
    this.own = new RegExp(`^\\.${escapeRegExp(o.prefix)}-${ctx.subtask}-\\d+-[0-9a-f]{8}-\\d+\\.(inprogress|pending)$`);
  }

  private path(name: string): string {
    return join(this.o.directory, name);
  }

  private fail(path: string, e: unknown): WeirError {
    return unwritable(this.ctx.operatorUid, path, e);
  }

  private openPart(now: number): Part {
    const base = `.${this.o.prefix}-${this.ctx.subtask}-${this.session}-${this.seq++}`;
    const inProgress = `${base}.inprogress`;
    const handle = open(this.path(inProgress), 'wx').catch((e) => {
      throw this.fail(this.path(inProgress), e);
    });
    // The handle's failure surfaces through tail (write, preCommit's durable); keep it observed.
    handle.catch(() => {});
    return { inProgress, pending: `${base}.pending`, openedAt: now, bytes: 0, handle, tail: handle.then(() => {}) };
  }

  /** Close the current part: flush, fsync and rename it to its pending name, in the background. */
  private roll(): void {
    const part = this.current;
    if (!part) return;
    this.current = undefined;
    this.rolled.push(part);
    const done = (async () => {
      const fh = await part.handle;
      try {
        await part.tail;
        await fh.sync();
      } finally {
        await fh.close().catch(() => {});
      }
      await rename(this.path(part.inProgress), this.path(part.pending));
    })().catch((e) => {
      throw this.fail(this.path(part.inProgress), e);
    });
    done.catch(() => {}); // observed by preCommit's durable and by commit
    this.finishing.set(part.pending, done);
  }

  write(records: unknown[]): Promise<void> | void {
    if (records.length === 0) return;
    let text = '';
    for (const r of records) text += this.o.format(r) + '\n';
    const now = Date.now();
    if (this.current && now - this.current.openedAt >= this.o.rolloverMs) this.roll();
    const part = (this.current ??= this.openPart(now));
    part.bytes += Buffer.byteLength(text);
    const written = (part.tail = part.tail.then(async () => {
      try {
        await (await part.handle).writeFile(text);
      } catch (e) {
        throw this.fail(this.path(part.inProgress), e);
      }
    }));
    if (part.bytes >= this.o.rolloverBytes) this.roll();
    return written;
  }

  preCommit(checkpointId: number): PreCommitted<FileSinkTransaction> {
    this.roll();
    const parts = this.rolled.splice(0);
    const files = parts.map((p, k) => ({ pending: p.pending, final: finishedFileName(this.o.prefix, this.ctx.subtask, checkpointId, k) }));
    if (files.length === 0) return { txn: { files } };
    const durable = Promise.all(parts.map((p) => this.finishing.get(p.pending))).then(() => syncDirectory(this.o.directory));
    return { txn: { files }, durable };
  }

  async commit(checkpointId: number, txn: FileSinkTransaction): Promise<void> {
    const files = txn?.files ?? []; // null: a transaction of the at-least-once mode (restored after a delivery change)
    for (const f of files) {
      await this.finishing.get(f.pending); // a transaction of this writer whose checkpoint did not wait yet (end of input)
      try {
        await rename(this.path(f.pending), this.path(f.final));
      } catch (e) {
        if (errno(e) !== 'ENOENT') throw this.fail(this.path(f.final), e);
        // Committed before (a restored transaction committed again): the finished file is there.
        if (!(await exists(this.path(f.final)))) {
          throw new WeirError(
            'WEIR_SINK_FILE_LOST',
            `file sink '${this.ctx.operatorUid}': checkpoint ${checkpointId === FINAL_TRANSACTION ? 'final' : checkpointId} cannot be committed: neither the pending file '${this.path(f.pending)}' nor the finished file '${this.path(f.final)}' exists (deleted by someone else?)`,
          );
        }
      }
      this.finishing.delete(f.pending);
    }
    if (files.length > 0) await syncDirectory(this.o.directory);
  }

  async recover(pending: readonly { readonly checkpointId: number; readonly txn: FileSinkTransaction }[]): Promise<void> {
    const named = new Set(pending.flatMap((p) => p.txn?.files?.map((f) => f.pending) ?? []));
    let names: string[];
    try {
      names = await readdir(this.o.directory);
    } catch (e) {
      throw this.fail(this.o.directory, e);
    }
    for (const name of names) {
      const m = this.own.exec(name);
      if (!m || (m[1] === 'pending' && named.has(name))) continue;
      // Records after the restored checkpoint: they are replayed.
      await unlink(this.path(name)).catch((e) => {
        if (errno(e) !== 'ENOENT') throw this.fail(this.path(name), e);
      });
    }
  }

  /** Cancel or failure (or after the final commit): in-progress parts stay, a restore removes them. */
  async close(): Promise<void> {
    const part = this.current;
    this.current = undefined;
    await Promise.allSettled(this.finishing.values());
    if (part) {
      await part.tail.catch(() => {});
      const fh = await part.handle.catch(() => undefined);
      await fh?.close().catch(() => {});
    }
  }
}
