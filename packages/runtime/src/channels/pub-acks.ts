import { createInbox, headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';

/** What became of one publish: stored by the stream, refused for now (retry), or failed for good. */
export type PublishOutcome = 'stored' | 'refused' | Error;

/** Refusals that go away by themselves: a full stream or channel, a stream not there yet, a timeout. */
export const isTransient = (text: string): boolean => /maximum (messages|bytes)|resource|no responders|timeout|503/i.test(text);

/** A successful PubAck is `{"stream":…,"seq":…}`; errors start with `{"error":…}`. */
const STORED_PREFIX = new TextEncoder().encode('{"stream"');
const decoder = new TextDecoder();

interface Batch {
  /** Reply id of the batch's first publish; the others follow in order. */
  readonly first: number;
  readonly outcomes: PublishOutcome[];
  left: number;
  readonly resolve: (outcomes: PublishOutcome[]) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * JetStream publishes without `js.publish`: that makes a request per frame, each with its own
 * timer, promise chain and JSON-parsed PubAck, about a fifth of the NATS client's CPU in a worker.
 * Here each frame is a plain publish whose reply subject is `<inbox>.<id>` on one subscription per
 * connection; a batch of publishes shares one promise and one timer, and a PubAck is recognised
 * as stored from its first bytes (only errors are parsed). What JetStream stores is the same.
 */
export class PubAckPublisher {
  private sub: Subscription | undefined;
  private prefix = '';
  private nextId = 0;
  /** Reply id -> its batch, while the PubAck is outstanding. */
  private readonly pending = new Map<number, Batch>();

  constructor(private readonly nc: NatsConnection) {}

  /**
   * Publishes `frames` to `subject` (in order, in one go: the client writes them together) and
   * resolves with one outcome per frame once every PubAck arrived or `timeoutMs` passed (missing
   * PubAcks count as refused: the frame may or may not be stored, the receiver drops duplicates).
   * `msgIds`: a `Nats-Msg-Id` per frame, so the stream's duplicate window drops a repeated publish.
   */
  publishAll(subject: string, frames: readonly (Uint8Array | string)[], timeoutMs: number, msgIds?: readonly string[]): Promise<PublishOutcome[]> {
    try {
      this.subscribe(); // before the first publish, so no PubAck is missed
    } catch (e) {
      // A closed connection: fail every frame (the channel reports it) rather than throw into the pump.
      const error = e instanceof Error ? e : new Error(String(e));
      return Promise.resolve(frames.map(() => error));
    }
    const first = this.nextId;
    this.nextId += frames.length;
    return new Promise((resolve) => {
      const batch: Batch = { first, outcomes: new Array<PublishOutcome>(frames.length), left: frames.length, resolve, timer: undefined };
      for (let i = 0; i < frames.length; i++) {
        const id = first + i;
        this.pending.set(id, batch);
        try {
          const reply = this.prefix + id;
          if (msgIds === undefined) this.nc.publish(subject, frames[i]!, { reply });
          else {
            const h = headers();
            h.set('Nats-Msg-Id', msgIds[i]!);
            this.nc.publish(subject, frames[i]!, { reply, headers: h });
          }
        } catch (e) {
          this.settle(id, e instanceof Error ? e : new Error(String(e)));
        }
      }
      if (batch.left > 0) {
        batch.timer = setTimeout(() => {
          for (let i = 0; i < frames.length; i++) if (batch.outcomes[i] === undefined) this.settle(first + i, 'refused');
        }, timeoutMs);
      }
    });
  }

  private subscribe(): void {
    if (this.sub) return;
    const inbox = createInbox();
    this.prefix = `${inbox}.`;
    this.sub = this.nc.subscribe(`${inbox}.*`, { callback: (err, msg) => (err ? this.failAll(err) : this.onReply(msg)) });
    // The connection or subscription closed: nothing outstanding will be answered.
    void this.sub.closed.then((e) => this.failAll(e ?? new Error('connection closed'))).catch((e: unknown) => this.failAll(e as Error));
  }

  private onReply(msg: Msg): void {
    this.settle(Number(msg.subject.slice(this.prefix.length)), outcomeOf(msg));
  }

  private settle(id: number, outcome: PublishOutcome): void {
    const batch = this.pending.get(id);
    if (batch === undefined) return; // late PubAck after a timeout
    this.pending.delete(id);
    batch.outcomes[id - batch.first] = outcome;
    if (--batch.left > 0) return;
    clearTimeout(batch.timer);
    batch.resolve(batch.outcomes);
  }

  private failAll(e: unknown): void {
    const error = e instanceof Error ? e : new Error(String(e));
    for (const id of [...this.pending.keys()]) this.settle(id, error);
    this.sub = undefined;
  }
}

function outcomeOf(msg: Msg): PublishOutcome {
  const data = msg.data;
  if (data.length === 0) {
    // A status message: 503 when no stream listens on the subject (yet, or any more).
    const h = msg.headers;
    if (h?.code === 503) return 'refused';
    return new Error(`publish answered with status ${h?.code ?? '?'} ${h?.description ?? ''}`.trim());
  }
  if (startsWith(data, STORED_PREFIX)) return 'stored';
  const text = decoder.decode(data);
  let ack: { error?: { code?: number; description?: string }; stream?: string };
  try {
    ack = JSON.parse(text) as typeof ack;
  } catch {
    return new Error(`unreadable PubAck: ${text.slice(0, 200)}`);
  }
  if (ack.error) {
    const description = `${ack.error.description ?? 'error'} (${ack.error.code ?? '?'})`;
    return isTransient(ack.error.description ?? '') ? 'refused' : new Error(description);
  }
  return ack.stream !== undefined ? 'stored' : new Error(`unexpected PubAck: ${text.slice(0, 200)}`);
}

function startsWith(data: Uint8Array, prefix: Uint8Array): boolean {
  if (data.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}
