import { jetstream, jetstreamManager, AckPolicy, DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import { WeirError } from '@weir/sdk';
import type { ConnectorContext, SinkWriter, SourceReader } from './types.js';

interface SourceOptions {
  stream: string;
  startSequence?: number;
  bounded?: boolean;
  decode?: (data: Uint8Array, subject: string) => unknown;
  servers?: string | string[];
}

const text = new TextDecoder();

/**
 * Reads an existing stream with an ordered consumer from a start sequence. Subtask i of p keeps
 * the messages whose sequence ≡ i (mod p), so subtasks split the work without coordination.
 * Bounded: stops after the last sequence the stream had when the source started.
 */
/** Checkpointed position: the last stream sequence read, and the bound fixed at the first start. */
interface Position {
  readonly seq: number;
  readonly lastSeq: number;
}

export async function jetstreamSource(o: SourceOptions, ctx: ConnectorContext, position?: unknown): Promise<SourceReader> {
  const nc = await ctx.nats(o.servers);
  const jsm = await jetstreamManager(nc);
  const restored = position as Position | undefined;
  let lastSeq: number;
  try {
    lastSeq = (await jsm.streams.info(o.stream)).state.last_seq;
  } catch (e) {
    throw new WeirError('WEIR_SOURCE_STREAM_NOT_FOUND', `JetStream source '${ctx.operatorUid}': stream '${o.stream}' does not exist or cannot be read (${(e as Error).message})`, { cause: e });
  }
  // A bounded source keeps the end it saw first, so a restart does not read what came later.
  if (restored) lastSeq = restored.lastSeq;
  const start = restored ? restored.seq + 1 : (o.startSequence ?? 1);
  let seqRead = start - 1;
  const decode = o.decode ?? ((d: Uint8Array) => text.decode(d));
  if (o.bounded && lastSeq < start) return { poll: async () => null, position: () => ({ seq: seqRead, lastSeq }), close: async () => {} };
  const consumer = await jetstream(nc).consumers.get(o.stream, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: start,
  });
  const messages = await consumer.consume({ max_messages: 2048 });
  const iterator = messages[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<JsMsg>> | undefined;
  let ended = false;
  return {
    async poll(max) {
      if (ended) return null;
      const out: unknown[] = [];
      const deadline = Date.now() + 20;
      while (out.length < max) {
        pending ??= iterator.next();
        const timeout = Math.max(0, deadline - Date.now());
        const r = out.length === 0 || timeout > 0 ? await Promise.race([pending, new Promise<null>((res) => setTimeout(() => res(null), out.length === 0 ? 50 : timeout))]) : null;
        if (r === null) break;
        pending = undefined;
        if (r.done) {
          ended = true;
          break;
        }
        const seq = r.value.seq;
        seqRead = seq;
        if (seq % ctx.parallelism === ctx.subtask % ctx.parallelism) out.push(decode(r.value.data, r.value.subject));
        if (o.bounded && seq >= lastSeq) {
          ended = true;
          break;
        }
      }
      return out.length === 0 && ended ? null : out;
    },
    position: (): Position => ({ seq: seqRead, lastSeq }),
    async close() {
      // stop() ends the pull loop at once; awaiting close() can wait on the server's response.
      messages.stop();
    },
  };
}

interface SinkOptions {
  subject: string;
  encode?: (v: unknown) => Uint8Array | string;
  servers?: string | string[];
}

/** Publishes records to a subject of an existing stream, a window of publishes in flight. */
export async function jetstreamSink(o: SinkOptions, ctx: ConnectorContext): Promise<SinkWriter> {
  const nc = await ctx.nats(o.servers);
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.find(o.subject);
  } catch (e) {
    throw new WeirError('WEIR_SINK_STREAM_NOT_FOUND', `JetStream sink '${ctx.operatorUid}': no stream captures subject '${o.subject}'; create one first (${(e as Error).message})`, { cause: e });
  }
  const js = jetstream(nc);
  const encode = o.encode ?? ((v: unknown) => JSON.stringify(v));
  return {
    async write(records) {
      const window = 256;
      for (let i = 0; i < records.length; i += window) {
        await Promise.all(records.slice(i, i + window).map((r) => js.publish(o.subject, encode(r))));
      }
    },
    async close() {},
  };
}
