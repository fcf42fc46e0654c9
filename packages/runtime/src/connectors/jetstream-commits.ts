import { jetstream, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { WeirError } from '@weir/sdk';

/** The stream that keeps the commit markers of exactly-once sinks writing to `stream`. */
export const commitMarkerStream = (stream: string): string => `WEIR_COMMITS_${stream}`;

/** Subjects of `stream`'s markers: one per job, sink operator and origin subtask. */
const markerSubject = (stream: string, jobId: string, uid: string, origin: number): string => `weir.commits.${stream}.${jobId}.${uid}.${origin}`;

/** JetStream's "no message found" for a get by subject: no marker yet. */
const NO_MESSAGE = 10037;
/** "stream name already in use": another sink (or an earlier run) created it. */
const STREAM_EXISTS = 10058;

/**
 * Commit markers of an exactly-once JetStream sink (as the Redis sink keeps its own): for each
 * job, sink operator and origin subtask, the last checkpoint whose transaction was published in
 * full. A transaction restored from a checkpoint is published again only if the marker is below
 * it. The message ids alone protect a repeat only while the output stream's duplicate window
 * remembers them, and a restore can come later (a long restart delay, a cluster down for minutes).
 * A crash between the publishes and the marker is still covered by the window.
 *
 * Markers live in a stream beside the output stream (`WEIR_COMMITS_<stream>`, same storage and
 * replicas, one message per subject, expiring `expiryMs` after the last commit).
 */
export class CommitMarkers {
  private readonly known = new Map<string, number>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    /** The output stream. */
    private readonly stream: string,
  ) {}

  /** Opens (and creates if needed) the marker stream of `stream`. */
  static async open(nc: NatsConnection, jsm: JetStreamManager, stream: string, expiryMs: number, sinkUid: string): Promise<CommitMarkers> {
    const output = (await jsm.streams.info(stream)).config;
    const name = commitMarkerStream(stream);
    const config: Partial<StreamConfig> & { name: string } = {
      name,
      subjects: [`weir.commits.${stream}.>`],
      storage: output.storage,
      num_replicas: output.num_replicas,
      max_msgs_per_subject: 1,
      max_age: expiryMs * 1_000_000,
    };
    try {
      await jsm.streams.add(config);
    } catch (e) {
      if ((e as { api_error?: { err_code?: number } }).api_error?.err_code !== STREAM_EXISTS) {
        throw new WeirError('WEIR_SINK_MARKERS_UNAVAILABLE', `JetStream sink '${sinkUid}': cannot create stream '${name}' for its commit markers (exactly-once needs it): ${(e as Error).message}; allow the sink's NATS user to create it, or create it yourself with subjects 'weir.commits.${stream}.>'`, { cause: e });
      }
    }
    return new CommitMarkers(nc, jsm, stream);
  }

  /** The last checkpoint committed for this origin (0: none). */
  async last(jobId: string, uid: string, origin: number): Promise<number> {
    const subject = markerSubject(this.stream, jobId, uid, origin);
    const cached = this.known.get(subject);
    if (cached !== undefined) return cached;
    let cp = 0;
    try {
      const msg = await this.jsm.streams.getMessage(commitMarkerStream(this.stream), { last_by_subj: subject });
      cp = msg ? Number((msg.json() as { cp?: unknown }).cp) || 0 : 0;
    } catch (e) {
      if ((e as { api_error?: { err_code?: number } }).api_error?.err_code !== NO_MESSAGE) throw e;
    }
    this.known.set(subject, cp);
    return cp;
  }

  /** Record that this origin's transaction of checkpoint `cp` is published. */
  async record(jobId: string, uid: string, origin: number, cp: number): Promise<void> {
    const subject = markerSubject(this.stream, jobId, uid, origin);
    await jetstream(this.nc).publish(subject, JSON.stringify({ cp }));
    this.known.set(subject, cp);
  }
}
