import { jetstream, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { WeirError } from '@weir/sdk';

/** The stream that keeps the commit markers of exactly-once sinks writing to `stream`. */
export const commitMarkerStream = (stream: string): string => `WEIR_COMMITS_${stream}`;

/**
 * The subject of one marker: job, sink operator and origin subtask. The uid is hex-encoded: a uid
 * may hold '.' (a subject's token separator), and 'out.' or 'a..b' would make an invalid subject.
 */
const markerSubject = (stream: string, jobId: string, uid: string, origin: number): string => `${markerSubjects(stream).slice(0, -1)}${jobId}.${Buffer.from(uid).toString('hex')}.${origin}`;

/** The subjects of `stream`'s marker stream. */
const markerSubjects = (stream: string): string => `weir.commits.${stream}.>`;

/** JetStream API error codes (JetStreamApiError.code). */
const STREAM_NOT_FOUND = 10059;
const STREAM_EXISTS = 10058;
/** "no message found" for a get by subject: no marker yet. */
const NO_MESSAGE = 10037;
const errCode = (e: unknown): unknown => (e as { code?: unknown }).code;

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

  /**
   * Opens the marker stream of `stream`, creating it if there is none (with the output stream's
   * storage and replicas). One that exists is used as it is (another sink made it, maybe with
   * another expiry, or an operator made it by hand) if it takes the markers' subjects.
   * @throws WeirError WEIR_SINK_MARKERS_UNAVAILABLE if it cannot be created or does not take them.
   */
  static async open(nc: NatsConnection, jsm: JetStreamManager, stream: string, expiryMs: number, sinkUid: string): Promise<CommitMarkers> {
    const name = commitMarkerStream(stream);
    const subjects = markerSubjects(stream);
    const unavailable = (why: string, cause?: unknown) =>
      new WeirError('WEIR_SINK_MARKERS_UNAVAILABLE', `JetStream sink '${sinkUid}': ${why}; exactly-once keeps its commit markers there: allow the sink's NATS user to create it, or create it yourself with subjects '${subjects}'`, cause === undefined ? undefined : { cause });
    let existing: StreamConfig | undefined;
    try {
      existing = (await jsm.streams.info(name)).config;
    } catch (e) {
      if (errCode(e) !== STREAM_NOT_FOUND) throw unavailable(`cannot read stream '${name}' (${(e as Error).message})`, e);
    }
    if (existing === undefined) {
      const output = (await jsm.streams.info(stream)).config;
      const config: Partial<StreamConfig> & { name: string } = { name, subjects: [subjects], storage: output.storage, num_replicas: output.num_replicas, max_msgs_per_subject: 1, max_age: expiryMs * 1_000_000 };
      try {
        await jsm.streams.add(config);
      } catch (e) {
        // Another sink created it meanwhile: use theirs.
        if (errCode(e) !== STREAM_EXISTS) throw unavailable(`cannot create stream '${name}' (${(e as Error).message})`, e);
        existing = (await jsm.streams.info(name)).config;
      }
    }
    if (existing !== undefined && !(existing.subjects ?? []).includes(subjects)) {
      throw unavailable(`stream '${name}' exists but does not take the subjects '${subjects}' (it takes ${JSON.stringify(existing.subjects ?? [])})`);
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
      // Older clients threw for "no message"; this one answers null.
      if (errCode(e) !== NO_MESSAGE) throw e;
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
