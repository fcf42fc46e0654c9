import { jetstream, jetstreamManager, DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import { setTimeout as sleep } from 'node:timers/promises';
import { WeirError } from '@weir/sdk';
import { checkMarkerExpiry, natsConnectionOf, type NatsConnectionOptions } from '@weir/sdk/connectors';
import { PubAckPublisher } from '../channels/pub-acks.js';
import { CommitMarkers } from './jetstream-commits.js';
import { rescaledProgress, resumeShare, type SplitGeneration, type SplitProgress } from './split-progress.js';
import { FINAL_TRANSACTION, RescaledPositions, type ConnectorContext, type SinkWriter, type SourceReader, type TransactionalSinkWriter } from './types.js';

interface SourceOptions extends NatsConnectionOptions {
  stream: string;
  start?: 'earliest' | 'latest' | { sequence: number } | { time: string | number };
  startSequence?: number;
  bounded?: boolean;
  decode?: (data: Uint8Array, subject: string) => unknown;
}

const text = new TextDecoder();

/**
 * Checkpointed position: the last stream sequence read, and the bound fixed at the first start.
 * After a rescale, `prior` (sequences as indexes, see split-progress.ts) marks the sequences of
 * this subtask's class after `seq` that the old subtasks already read; absent once passed.
 */
interface Position {
  readonly seq: number;
  readonly lastSeq: number;
  readonly prior?: SplitGeneration;
}

function isPosition(p: unknown): p is Position {
  return typeof p === 'object' && p !== null && typeof (p as Position).seq === 'number' && typeof (p as Position).lastSeq === 'number';
}

/** A position as split progress: every sequence of the class up to `seq` is done. */
const progressOf = (p: Position): SplitProgress => (p.prior ? { next: p.seq + 1, prior: p.prior } : p.seq + 1);

/**
 * Reads an existing stream with an ordered consumer from a start sequence. Subtask i of p keeps
 * the messages whose sequence ≡ i (mod p), so subtasks split the work without coordination.
 * Bounded: stops after the last sequence the stream had when the source started. Restored at
 * another parallelism, it skips the sequences the old subtasks read (split-progress.ts).
 */
export async function jetstreamSource(o: SourceOptions, ctx: ConnectorContext, position?: unknown): Promise<SourceReader> {
  const nc = await ctx.nats(natsConnectionOf(o));
  const jsm = await jetstreamManager(nc);
  const rescaled = RescaledPositions.of(position);
  const own = !rescaled && isPosition(position) ? position : undefined;
  const restored = rescaled !== undefined || own !== undefined;
  let lastSeq: number;
  try {
    lastSeq = (await jsm.streams.info(o.stream)).state.last_seq;
  } catch (e) {
    throw new WeirError('WEIR_SOURCE_STREAM_NOT_FOUND', `JetStream source '${ctx.operatorUid}': stream '${o.stream}' does not exist or cannot be read (${(e as Error).message})`, { cause: e });
  }
  // A bounded source keeps the end it saw first, so a restart does not read what came later.
  if (own) lastSeq = own.lastSeq;
  // Old subtasks fixed their bounds at nearly the same time; the largest loses nothing any of them would have read.
  const bounds = rescaled ? rescaled.positions.filter(isPosition).map((p) => p.lastSeq) : [];
  if (bounds.length > 0) lastSeq = Math.max(...bounds);
  const from = o.start ?? (o.startSequence !== undefined ? { sequence: o.startSequence } : 'earliest');
  // A restored position wins over the configured start; a start time is resolved by the server.
  const startTime = !restored && typeof from === 'object' && 'time' in from ? new Date(from.time) : undefined;
  if (startTime && Number.isNaN(startTime.getTime())) throw new WeirError('WEIR_SOURCE_START_INVALID', `JetStream source '${ctx.operatorUid}': start time '${String((from as { time: unknown }).time)}' is not a date`);
  const configured = from === 'earliest' || (typeof from === 'object' && 'time' in from) ? 1 : from === 'latest' ? lastSeq + 1 : (from as { sequence: number }).sequence;
  if (!restored && (!Number.isInteger(configured) || configured < 1)) throw new WeirError('WEIR_SOURCE_START_INVALID', `JetStream source '${ctx.operatorUid}': start sequence must be a positive integer, got ${String(configured)}`);
  // An old subtask without a position had read nothing after the configured start (a start time counts as 1).
  const resumed = rescaled
    ? resumeShare(ctx.subtask, ctx.parallelism, 1, rescaledProgress(1, rescaled.parallelism, rescaled.positions.map((p) => (isPosition(p) ? progressOf(p) : configured > 1 ? configured : null))))
    : own
      ? resumeShare(ctx.subtask, ctx.parallelism, 1, progressOf(own))
      : undefined;
  const share = resumed?.share;
  const start = resumed ? resumed.next : configured;
  let seqRead = start - 1;
  const positionNow = (): Position => {
    const progress = share?.progress(seqRead + 1);
    return typeof progress === 'object' && progress.prior ? { seq: seqRead, lastSeq, prior: progress.prior } : { seq: seqRead, lastSeq };
  };
  const decode = o.decode ?? ((d: Uint8Array) => text.decode(d));
  if (o.bounded && lastSeq < start) return { poll: async () => null, position: positionNow, close: async () => {} };
  const consumer = await jetstream(nc).consumers.get(
    o.stream,
    startTime ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: startTime.toISOString() } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start },
  );
  const messages = await consumer.consume({ max_messages: 2048 });
  const iterator = messages[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<JsMsg>> | undefined;
  let ended = false;
  return {
    async poll(max) {
      if (ended) return null;
      const out: unknown[] = [];
      // One timer per poll, not per message: wait up to 50 ms for the first record, 20 ms in all for more.
      let timer: NodeJS.Timeout | undefined;
      let expired = false;
      const deadline = new Promise<null>((res) => {
        timer = setTimeout(() => {
          expired = true;
          res(null);
        }, 50);
      });
      const started = Date.now();
      while (out.length < max && !expired) {
        pending ??= iterator.next();
        const r = await Promise.race([pending, deadline]);
        if (r === null) break;
        pending = undefined;
        if (r.done) {
          ended = true;
          break;
        }
        const seq = r.value.seq;
        seqRead = seq;
        if (seq % ctx.parallelism === ctx.subtask % ctx.parallelism && (share === undefined || share.isPending(seq))) out.push(decode(r.value.data, r.value.subject));
        if (o.bounded && seq >= lastSeq) {
          ended = true;
          break;
        }
        if (out.length > 0 && Date.now() - started > 20) break;
      }
      clearTimeout(timer);
      return out.length === 0 && ended ? null : out;
    },
    position: positionNow,
    async close() {
      // stop() ends the pull loop at once; awaiting close() can wait on the server's response.
      messages.stop();
    },
  };
}

interface SinkOptions extends NatsConnectionOptions {
  subject: string;
  encode?: (v: unknown) => Uint8Array | string;
  delivery?: 'exactly-once' | 'at-least-once';
  minDuplicateWindowMs?: number;
  /** exactly-once: how long a commit marker lives after the sink's last commit (default 7 days). */
  markerExpiryMs?: number;
}


/** Publishes sent together before their PubAcks are awaited. */
const WINDOW = 256;
/** How long a window's PubAcks may take before the missing ones are sent again. */
const PUBLISH_TIMEOUT_MS = 10_000;
/** Rounds of refusals (stream full, no responders, timeouts) before the write fails the task. */
const MAX_REFUSED_ROUNDS = 20;

/**
 * Publishes every payload to `subject`, WINDOW at a time, over the connection's shared PubAck
 * subscription (channels/pub-acks.ts: a plain publish per message, not a request each). Refused
 * publishes are sent again after a pause, with the same message id; an error fails the write.
 */
async function publishAll(pub: PubAckPublisher, subject: string, payloads: readonly (Uint8Array | string)[], msgId?: (i: number) => string): Promise<void> {
  for (let start = 0; start < payloads.length; start += WINDOW) {
    let todo = Array.from({ length: Math.min(WINDOW, payloads.length - start) }, (_, k) => start + k);
    for (let round = 0, pause = 10; todo.length > 0; round++, pause = Math.min(pause * 2, 1_000)) {
      if (round > 0) await sleep(pause);
      const outcomes = await pub.publishAll(subject, todo.map((i) => payloads[i]!), PUBLISH_TIMEOUT_MS, msgId ? todo.map(msgId) : undefined);
      const error = outcomes.find((o): o is Error => o instanceof Error);
      if (error) throw new WeirError('WEIR_SINK_PUBLISH_FAILED', `publishing to '${subject}' failed: ${error.message}`, { cause: error });
      todo = todo.filter((_, k) => outcomes[k] === 'refused');
      if (todo.length > 0 && round + 1 >= MAX_REFUSED_ROUNDS) {
        throw new WeirError('WEIR_SINK_PUBLISH_FAILED', `publishing to '${subject}': ${todo.length} messages still refused after ${MAX_REFUSED_ROUNDS} tries (stream full or not answering)`);
      }
    }
  }
}

/**
 * Publishes records to a subject of an existing stream.
 * at-least-once: each batch is published at once (replays after a recovery publish again).
 * exactly-once: a checkpoint's records are staged (in the checkpoint) and published when it
 * completes, each with a deterministic Nats-Msg-Id (job, operator, subtask, checkpoint, index):
 * a commit repeated after a recovery is dropped by the stream's duplicate window.
 */
export async function jetstreamSink(o: SinkOptions, ctx: ConnectorContext): Promise<SinkWriter | TransactionalSinkWriter<(Uint8Array | string)[]>> {
  const nc = await ctx.nats(natsConnectionOf(o));
  const jsm = await jetstreamManager(nc);
  let stream: string;
  try {
    stream = await jsm.streams.find(o.subject);
  } catch (e) {
    throw new WeirError('WEIR_SINK_STREAM_NOT_FOUND', `JetStream sink '${ctx.operatorUid}': no stream captures subject '${o.subject}'; create one first (${(e as Error).message})`, { cause: e });
  }
  const pub = new PubAckPublisher(nc);
  const encode = o.encode ?? ((v: unknown) => JSON.stringify(v));
  if (o.delivery !== 'exactly-once') {
    return {
      write: (records) => publishAll(pub, o.subject, records.map(encode)),
      async close() {},
    };
  }
  // A repeated commit comes after a recovery: the stream must still remember the first one's ids.
  const windowMs = Math.round(((await jsm.streams.info(stream)).config.duplicate_window ?? 0) / 1e6);
  const needed = o.minDuplicateWindowMs ?? 60_000;
  if (windowMs < needed) {
    throw new WeirError(
      'WEIR_SINK_DUPLICATE_WINDOW_TOO_SMALL',
      `JetStream sink '${ctx.operatorUid}': stream '${stream}' remembers message ids for ${windowMs} ms; exactly-once needs at least ${needed} ms (longer than a recovery takes). Raise it (e.g. 'nats stream edit ${stream} --dupe-window 2m') or lower minDuplicateWindowMs`,
    );
  }
  const expiryMs = checkMarkerExpiry(o.markerExpiryMs, `JetStream sink '${ctx.operatorUid}'`);
  const markers = await CommitMarkers.open(nc, jsm, stream, expiryMs, ctx.operatorUid);
  let open: (Uint8Array | string)[] = [];
  const prefix = `${ctx.jobId}.${ctx.operatorUid}`;
  return {
    write(records) {
      for (const r of records) open.push(encode(r));
    },
    preCommit() {
      const txn = open;
      open = [];
      return { txn };
    },
    async commit(checkpointId, txn, origin) {
      if (txn.length === 0) return;
      const ids = (i: number) => `${prefix}.${origin}.${checkpointId === FINAL_TRANSACTION ? 'final' : checkpointId}.${i}`;
      // The last transaction, committed as the subtask finishes, is never restored: no marker, and
      // none that would stand above the checkpoints of a later attempt of this origin.
      if (checkpointId === FINAL_TRANSACTION) return publishAll(pub, o.subject, txn, ids);
      // Published before (a transaction restored from a checkpoint taken before its commit): the
      // marker knows, even once the stream's duplicate window has forgotten the message ids.
      if ((await markers.last(ctx.jobId, ctx.operatorUid, origin)) >= checkpointId) return;
      await publishAll(pub, o.subject, txn, ids);
      await markers.record(ctx.jobId, ctx.operatorUid, origin, checkpointId);
    },
    async close() {},
  };
}
