import type { NatsConnectionOptions, SinkSpec, SourceSpec } from './spec.js';
export type { SinkSpec, SourceSpec, NatsConnectionOptions } from './spec.js';
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
  /** First stream sequence to read (default 1). */
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
  /** Directory; subtask i writes `part-<i>` in it. */
  readonly directory: string;
  /** One record to one line. Default: JSON. */
  readonly format?: (value: T) => string;
}
/** Writes records as lines into one file per subtask. */
export function fileSink<T>(options: FileSinkOptions<T>): SinkSpec<T> {
  return { role: 'sink', type: 'file', options };
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
}
/** Publishes each record to a subject of an existing JetStream stream. */
export function jetstreamSink<T>(options: JetStreamSinkOptions<T>): SinkSpec<T> {
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
 */
export function redisHashSink<T>(options: RedisHashSinkOptions<T>): SinkSpec<T> {
  return { role: 'sink', type: 'redis-hash', options };
}
