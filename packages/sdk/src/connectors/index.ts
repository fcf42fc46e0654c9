import { WeirError } from '../errors.js';
import type { NatsConnectionOptions, SinkSpec, SourceSpec } from './spec.js';
export type { SinkSpec, SourceSpec, NatsConnectionOptions } from './spec.js';
export { natsConnectionOf } from './spec.js';
export { defaultGeneratedLine, seededRandom, VOCABULARY } from './generated-text.js';

export interface GeneratorOptions<T> {
  /** Number of records; omit for an unbounded source. */
  readonly count?: number;
  /** Seed of the deterministic generator (default 1). */
  readonly seed?: number;
  /** Records per second over all subtasks; omit for as fast as possible. */
  readonly ratePerSecond?: number;
  /**
   * Makes record `index` from a random function seeded by (seed, index): the same index always
   * gives the same record, so the source replays exactly. Default: a line of 10 words.
   */
  readonly make?: (index: number, random: () => number) => T;
}

/** A deterministic, seeded, replayable generator. Subtask i of p makes the indexes ≡ i (mod p). */
export function generator<T = string>(options: GeneratorOptions<T> = {}): SourceSpec<T> {
  return { role: 'source', type: 'generator', options: { seed: 1, ...options }, bounded: options.count !== undefined };
}

export interface FileSourceOptions {
  /** Path of a text file, read line by line. Parallel subtasks read disjoint byte ranges. */
  readonly path: string;
}
/** Lines of a text file (bounded). */
export function fileSource(options: FileSourceOptions): SourceSpec<string> {
  return { role: 'source', type: 'file', options, bounded: true };
}

export interface JetStreamSourceOptions<T> extends NatsConnectionOptions {
  /** An existing stream. */
  readonly stream: string;
  /**
   * Where a job that starts fresh begins: `earliest` (default), `latest` (only messages stored
   * after the start), `{ sequence }` or `{ time }` (ISO string or ms since epoch). A restored job
   * resumes from its checkpointed position instead.
   */
  readonly start?: 'earliest' | 'latest' | { readonly sequence: number } | { readonly time: string | number };
  /** Same as `start: { sequence }` (kept for compatibility). */
  readonly startSequence?: number;
  /** Stop after the stream's last sequence at start time (bounded). Default false: run forever. */
  readonly bounded?: boolean;
  /** How to turn a message into a record. Default: the payload as a UTF-8 string. */
  readonly decode?: (data: Uint8Array, subject: string) => T;
}
/** Reads an existing JetStream stream from a sequence. Parallel subtasks split sequences modulo p. */
export function jetstreamSource<T = string>(options: JetStreamSourceOptions<T>): SourceSpec<T> {
  return { role: 'source', type: 'jetstream', options, bounded: options.bounded === true };
}

export interface PrintSinkOptions<T> {
  /** Text put before each line (default none). */
  readonly prefix?: string;
  readonly format?: (value: T) => string;
}
/** Prints each record on the process's standard output (the worker's, on a cluster). */
export function print<T>(options: PrintSinkOptions<T> = {}): SinkSpec<T> {
  return { role: 'sink', type: 'print', options };
}

export interface FileSinkOptions<T> {
  /**
   * Directory of the output, created if missing; use one per job run. Every subtask writes its
   * own files in it (see {@link FileSinkOptions.delivery} for their names). Files whose name starts
   * with `.` are the sink's work in progress: readers must skip them.
   */
  readonly directory: string;
  /** One record to one line (a `\n` is appended). Default: JSON (a string as is). */
  readonly format?: (value: T) => string;
  /**
   * - `'exactly-once'` (default, like Flink's FileSink): every record is in exactly one finished
   *   file, once, even across failures and restores. Records are written to hidden in-progress
   *   part files (`.<prefix>-<subtask>-….inprogress`); at each checkpoint the open part is
   *   closed, flushed and fsynced (the checkpoint waits for it) and becomes pending; when the
   *   checkpoint completes its parts are renamed to finished files
   *   `<prefix>-<subtask>-<checkpoint id, 10 digits>-<k>` (`<prefix>-<subtask>-final-<k>` for what
   *   follows the last checkpoint of a bounded input). Output becomes visible only when a
   *   checkpoint completes (or a bounded input ends): the checkpoint interval is the latency.
   *   After a restore, the records after the restored checkpoint are dropped from the hidden
   *   files and written again.
   * - `'at-least-once'`: lines are appended to one file per subtask, `<prefix>-<subtask>`,
   *   visible at once and fsynced at each checkpoint. Nothing is lost; after a recovery the
   *   records since the restored checkpoint are appended again (duplicates). The file is never
   *   truncated: a rerun into the same directory appends too.
   */
  readonly delivery?: 'exactly-once' | 'at-least-once';
  /**
   * exactly-once: a part file is rolled (closed, and the next write opens a new one) after the
   * write that brings it to this size. Default 128 MiB. One checkpoint's transaction may hold
   * several parts.
   */
  readonly rolloverBytes?: number;
  /**
   * exactly-once: a part file open longer than this (ms) is rolled at the next write. Default
   * 60,000. Rolling does not make data visible: only a completed checkpoint does.
   */
  readonly rolloverMs?: number;
  /** First part of every file name (default `'part'`); not empty, no `/` or `\`, not starting with `.`. */
  readonly prefix?: string;
}
/**
 * Writes records as lines into files of a directory, with exactly-once (default) or at-least-once
 * delivery; see {@link FileSinkOptions.delivery}.
 * @throws WeirError `WEIR_SINK_OPTIONS_INVALID` with an unknown `delivery`, a non-positive
 * `rolloverBytes`/`rolloverMs` or a bad `prefix`.
 */
export function fileSink<T>(options: FileSinkOptions<T>): SinkSpec<T> {
  const delivery = options.delivery ?? 'exactly-once';
  if (delivery !== 'exactly-once' && delivery !== 'at-least-once') {
    throw new WeirError('WEIR_SINK_OPTIONS_INVALID', `fileSink delivery is '${String(delivery)}'; use 'exactly-once' or 'at-least-once'`);
  }
  for (const k of ['rolloverBytes', 'rolloverMs'] as const) {
    const v = options[k];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v > 0)) {
      throw new WeirError('WEIR_SINK_OPTIONS_INVALID', `fileSink ${k} is ${String(v)}; it must be a positive number`);
    }
  }
  const prefix = options.prefix;
  if (prefix !== undefined && (typeof prefix !== 'string' || prefix === '' || prefix.startsWith('.') || /[/\\]/.test(prefix))) {
    throw new WeirError('WEIR_SINK_OPTIONS_INVALID', `fileSink prefix '${String(prefix)}' must be a non-empty file name part, not starting with '.' and without '/' or '\\'`);
  }
  return { role: 'sink', type: 'file', options: { ...options, delivery } };
}

export interface JetStreamSinkOptions<T> extends NatsConnectionOptions {
  /** Subject to publish to; it must belong to an existing stream. */
  readonly subject: string;
  /** Record to payload. Default: JSON. */
  readonly encode?: (value: T) => Uint8Array | string;
  /**
   * `at-least-once` (default): records are published as they come; after a recovery the replayed
   * ones are published again. `exactly-once`: records are published when the checkpoint after
   * them completes, with deterministic message ids, so the stream drops a repeated commit; output
   * appears once per checkpoint interval.
   */
  readonly delivery?: 'exactly-once' | 'at-least-once';
  /** exactly-once: the stream's duplicate window must be at least this (ms). Default 60000. */
  readonly minDuplicateWindowMs?: number;
  /**
   * exactly-once: how long a commit marker (the last checkpoint each sink subtask published, in
   * the stream `WEIR_COMMITS_<stream>`) lives after its last commit; a restore later than that
   * publishes the restored transactions again. An integer of at least 1,000. Default 7 days.
   */
  readonly markerExpiryMs?: number;
}
/**
 * Publishes each record to a subject of an existing JetStream stream.
 * @throws WeirError `WEIR_SINK_OPTIONS_INVALID` with a bad `markerExpiryMs`.
 */
export function jetstreamSink<T>(options: JetStreamSinkOptions<T>): SinkSpec<T> {
  checkMarkerExpiry(options.markerExpiryMs, 'jetstreamSink');
  return { role: 'sink', type: 'jetstream', options };
}

/** Discards records; for benchmarks and tests. */
export function discard<T>(): SinkSpec<T> {
  return { role: 'sink', type: 'discard', options: {} };
}

export interface RedisHashSinkOptions<T> {
  /** The Redis hash written to. */
  readonly hash: string;
  /** Field of a record. */
  readonly field: (value: T) => string;
  /** Value of a record. Default: JSON of the record. */
  readonly value?: (value: T) => string | number;
  /** Redis URL; default: the cluster's WEIR_REDIS_URL. */
  readonly url?: string;
}
/**
 * Upserts each record as a field of a Redis hash (HSET, pipelined per batch). Replays after a
 * recovery write the same values again, so the hash ends exact; delivery is at-least-once.
 * Shorthand for {@link redisSink} with an `hset` write.
 */
export function redisHashSink<T>(options: RedisHashSinkOptions<T>): SinkSpec<T> {
  const { hash, field } = options;
  const value = options.value ?? ((v: T) => JSON.stringify(v));
  return redisSink<T>({
    write: (v) => {
      const f: unknown = field(v); // a number is accepted as before (JavaScript jobs)
      return { type: 'hset', key: hash, field: typeof f === 'number' ? String(f) : (f as string), value: value(v) };
    },
    delivery: 'at-least-once',
    ...(options.url !== undefined ? { url: options.url } : {}),
  });
}

/** One Redis command a {@link redisSink} record turns into. */
export type RedisWrite =
  | { readonly type: 'hset'; readonly key: string; readonly field: string; readonly value: string | number }
  | { readonly type: 'zadd'; readonly key: string; readonly score: number; readonly member: string }
  | { readonly type: 'rpush'; readonly key: string; readonly value: string | number }
  /** XADD with an id chosen by Redis (`*`); `fields` must have at least one entry (at most 1,000). */
  | { readonly type: 'xadd'; readonly key: string; readonly fields: Readonly<Record<string, string | number>> };

export interface RedisSinkOptions<T> {
  /**
   * The Redis writes of one record (none: return `[]`). Runs in the worker. A result that is not
   * a valid {@link RedisWrite} fails the task with `WEIR_SINK_RECORD_INVALID`.
   */
  readonly write: (value: T) => RedisWrite | readonly RedisWrite[];
  /**
   * - `'at-least-once'` (default): each batch is written at once, in one pipeline. After a
   *   recovery the records since the last completed checkpoint are written again: upserts
   *   (`hset`, `zadd`) end exact, appends (`rpush`, `xadd`) may be duplicated.
   * - `'exactly-once'`: the writes between two checkpoints are kept (in memory, then in the
   *   checkpoint) and applied only when the checkpoint completes, atomically per chunk of 1,000
   *   writes and guarded by a commit marker in Redis, so each write takes effect exactly once,
   *   appends included. Writes become visible only when a checkpoint completes (or when a
   *   bounded input ends): the checkpoint interval is the latency. Needs checkpointing enabled
   *   for an unbounded job.
   */
  readonly delivery?: 'exactly-once' | 'at-least-once';
  /** Redis URL; default: the cluster's WEIR_REDIS_URL. */
  readonly url?: string;
  /**
   * Exactly-once: how long the sink's commit markers live after its last commit, in ms (default
   * 7 days, as Kafka's `transactional.id.expiration.ms`). Each commit starts the time again; after
   * it the markers of an ended job are gone without anyone deleting them. A restore within it
   * commits nothing twice. An integer of at least 1,000.
   */
  readonly markerExpiryMs?: number;
}

/** Default of {@link RedisSinkOptions.markerExpiryMs}: 7 days. */
export const DEFAULT_MARKER_EXPIRY_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Checks a sink's `markerExpiryMs` (`who` names the sink in the message); the worker checks again, as options may not come from {@link redisSink} or {@link jetstreamSink}.
 * @throws WeirError `WEIR_SINK_OPTIONS_INVALID` unless it is an integer of at least 1,000.
 */
export function checkMarkerExpiry(ms: unknown, who = 'redisSink'): number {
  if (ms === undefined) return DEFAULT_MARKER_EXPIRY_MS;
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 1000) {
    throw new WeirError('WEIR_SINK_OPTIONS_INVALID', `${who} markerExpiryMs is ${String(ms)}; use a whole number of milliseconds of at least 1000 (default ${DEFAULT_MARKER_EXPIRY_MS}, 7 days)`);
  }
  return ms;
}

/**
 * Writes records to Redis as HSET, ZADD, RPUSH or XADD commands, with at-least-once (default) or
 * exactly-once delivery; see {@link RedisSinkOptions.delivery}.
 * @throws WeirError `WEIR_SINK_OPTIONS_INVALID` without a `write` function, with an unknown `delivery` or a bad `markerExpiryMs`.
 */
export function redisSink<T>(options: RedisSinkOptions<T>): SinkSpec<T> {
  if (typeof options?.write !== 'function') {
    throw new WeirError('WEIR_SINK_OPTIONS_INVALID', 'redisSink needs a `write` function: record => RedisWrite | RedisWrite[]');
  }
  const delivery = options.delivery ?? 'at-least-once';
  if (delivery !== 'exactly-once' && delivery !== 'at-least-once') {
    throw new WeirError('WEIR_SINK_OPTIONS_INVALID', `redisSink delivery is '${String(delivery)}'; use 'exactly-once' or 'at-least-once'`);
  }
  checkMarkerExpiry(options.markerExpiryMs);
  return { role: 'sink', type: 'redis', options: { ...options, delivery } };
}
