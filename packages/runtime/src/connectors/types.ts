import type { NatsConnection } from '@nats-io/transport-node';
import type { NatsConnectionOptions } from '@weir/sdk/connectors';
import type { Logger } from 'pino';

/** What a connector instance knows about where it runs. */
export interface ConnectorContext {
  readonly subtask: number;
  readonly parallelism: number;
  readonly operatorUid: string;
  readonly jobId: string;
  readonly log: Logger;
  /** The cluster's Redis (WEIR_REDIS_URL), the default of Redis connectors. */
  readonly redisUrl: string;
  /** A NATS connection with these options (default: the cluster's), shared per options and owned by the worker. */
  nats(options?: NatsConnectionOptions): Promise<NatsConnection>;
}

/** Reads a source's share of the input. */
export interface SourceReader {
  /**
   * Up to `max` records; an empty array when nothing is available right now (after waiting
   * briefly), or null when a bounded input has ended.
   */
  poll(max: number): Promise<unknown[] | null>;
  /**
   * Where the reader is: everything polled so far is before it. Checkpointed as operator state
   * and handed back to the factory on restore, so the source resumes right after it.
   */
  position(): unknown;
  close(): Promise<void>;
}

/** Writes a sink subtask's records. */
export interface SinkWriter {
  /** Write a batch; the task waits for it (that is the sink's backpressure). */
  write(records: unknown[]): Promise<void> | void;
  close(): Promise<void>;
}

/** What a transactional sink hands over at a checkpoint barrier. */
export interface PreCommitted<T> {
  /** The transaction to commit once the checkpoint completes; kept in the checkpoint (msgpackr). */
  readonly txn: T;
  /** Resolves when the transaction's data is durable (e.g. files flushed); the checkpoint waits for it. */
  readonly durable?: Promise<void>;
}

/**
 * A sink with exactly-once delivery by two-phase commit driven by checkpoints: records written
 * between two barriers form one transaction; at barrier n it is pre-committed (staged, part of
 * checkpoint n), and committed when checkpoint n completes. Commit must be idempotent: after a
 * recovery the restored transactions are committed again.
 */
export interface TransactionalSinkWriter<T = unknown> extends SinkWriter {
  /** Checkpoint barrier: close the open transaction, open the next one. Synchronous capture. */
  preCommit(checkpointId: number): PreCommitted<T>;
  /**
   * Make a pre-committed transaction visible; idempotent. `origin` is the index of the subtask
   * that pre-committed it: after a rescale another subtask may commit it, and whatever makes the
   * commit idempotent (message ids, commit markers) must be the origin's.
   */
  commit(checkpointId: number, txn: T, origin: number): Promise<void>;
  /**
   * After a restore, before anything is written: the restored transactions (all of completed
   * checkpoints, committed again next) — drop whatever else the failed attempt left behind.
   */
  recover?(pending: readonly { readonly checkpointId: number; readonly txn: T }[]): Promise<void>;
}

/**
 * Checkpoint id of the last transaction of a bounded input: pre-committed and committed when the
 * sink's input ends (no checkpoint follows). Writers may name it specially (e.g. files `…-final`).
 */
export const FINAL_TRANSACTION = Number.MAX_SAFE_INTEGER;

export function isTransactional(w: SinkWriter): w is TransactionalSinkWriter {
  return typeof (w as Partial<TransactionalSinkWriter>).preCommit === 'function';
}

/**
 * What a source factory gets instead of one position when the job restores a checkpoint taken at
 * another parallelism of the source: the old parallelism and every old subtask's position, by old
 * index (undefined where an old subtask stored none). A reader resumes its share of the input at
 * the new parallelism from all of them.
 */
export class RescaledPositions {
  constructor(
    readonly parallelism: number,
    readonly positions: readonly unknown[],
  ) {}

  /**
   * `position` as RescaledPositions, or undefined for an ordinary position. A packed instance
   * (checkpointed before its reader made progress) comes back as a plain object of the same
   * shape: it is recognized too, and still describes exactly what was done.
   */
  static of(position: unknown): RescaledPositions | undefined {
    if (position instanceof RescaledPositions) return position;
    if (typeof position !== 'object' || position === null) return undefined;
    const o = position as { parallelism?: unknown; positions?: unknown };
    if (Number.isInteger(o.parallelism) && (o.parallelism as number) > 0 && Array.isArray(o.positions) && Object.keys(o).length === 2) {
      return new RescaledPositions(o.parallelism as number, o.positions);
    }
    return undefined;
  }
}

/**
 * `position` is what `position()` returned at the checkpoint restored from, if any, or
 * RescaledPositions when that checkpoint ran the source at another parallelism.
 */
export type SourceFactory = (options: any, ctx: ConnectorContext, position?: unknown) => Promise<SourceReader>;
export type SinkFactory = (options: any, ctx: ConnectorContext) => Promise<SinkWriter>;
