import type { NatsConnection } from '@nats-io/transport-node';
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
  /** A NATS connection for the given servers (default: the cluster's), shared and owned by the worker. */
  nats(servers?: string | readonly string[]): Promise<NatsConnection>;
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

/** `position` is what `position()` returned at the checkpoint restored from, if any. */
export type SourceFactory = (options: any, ctx: ConnectorContext, position?: unknown) => Promise<SourceReader>;
export type SinkFactory = (options: any, ctx: ConnectorContext) => Promise<SinkWriter>;
