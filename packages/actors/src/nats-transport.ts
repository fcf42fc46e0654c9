import { RequestError, TimeoutError, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { pino, type Logger } from 'pino';
import { decodeWire, encodeWire } from './codec.js';
import { ActorError, ActorNotFoundError, AskTimeoutError, RemoteActorError } from './errors.js';
import type { Deliver, Transport } from './transport.js';

/** Options of a {@link NatsTransport}. */
export interface NatsTransportOptions {
  /** Subject prefix; default 'weir.actor'. Systems that should see each other share it. */
  prefix?: string;
  /** For delivery problems nobody else can see (undecodable messages, failed tells). Default: silent. */
  logger?: Logger;
}

/** Wire form of an ask's reply. */
type ReplyEnvelope = { ok: unknown } | { error: { code: string; message: string; name: string } };

const NAME = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/;
const PREFIX = /^[^\s.*>]+(\.[^\s.*>]+)*$/;

/** The wire form of an error thrown by a receive: code, message and name survive. */
function errorEnvelope(e: unknown): ReplyEnvelope {
  const err = (typeof e === 'object' && e !== null ? e : {}) as { code?: unknown; message?: unknown; name?: unknown };
  const code = typeof err.code === 'string' || typeof err.code === 'number' ? String(err.code) : '';
  const message = typeof err.message === 'string' ? err.message : String(e);
  return { error: { code, message, name: typeof err.name === 'string' ? err.name : 'Error' } };
}

/**
 * Actors across processes over NATS core. Actor `n` listens on `${prefix}.${n}` ('/' in names
 * becomes '.'); tell is a publish, ask a request with a timeout, both msgpack-encoded (deflated
 * above 64 KiB, codec.ts encodeWire). The
 * receiver replies `{ ok: value }` or `{ error: { code, message, name } }`.
 *
 * Names are global across every process sharing the prefix; a duplicate in another process is
 * not detected (both would receive). The connection is the caller's: close() only unsubscribes.
 */
export class NatsTransport implements Transport {
  private readonly subs = new Map<string, Subscription>();
  private readonly prefix: string;
  private readonly log: Logger;

  constructor(
    private readonly nc: NatsConnection,
    opts: NatsTransportOptions = {},
  ) {
    this.prefix = opts.prefix ?? 'weir.actor';
    if (!PREFIX.test(this.prefix)) throw new ActorError('WEIR_ACTOR_BAD_NAME', `'${this.prefix}' is not a valid subject prefix`);
    this.log = opts.logger ?? pino({ level: 'silent' });
  }

  /** The subject an actor name maps to; throws ActorError WEIR_ACTOR_BAD_NAME for names outside [A-Za-z0-9_-/]. */
  subjectOf(name: string): string {
    if (!NAME.test(name)) {
      throw new ActorError('WEIR_ACTOR_BAD_NAME', `actor name '${name}' must be segments of letters, digits, '_' and '-', separated by single '/'`);
    }
    return `${this.prefix}.${name.replaceAll('/', '.')}`;
  }

  register(name: string, deliver: Deliver): void {
    const subject = this.subjectOf(name);
    if (this.subs.has(name)) throw new ActorError('WEIR_ACTOR_NAME_TAKEN', `an actor named '${name}' is already registered on this transport`);
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return void this.log.warn({ err, actor: name }, 'actor subscription failed');
        this.onMessage(name, msg, deliver);
      },
    });
    this.subs.set(name, sub);
  }

  unregister(name: string): void {
    const sub = this.subs.get(name);
    this.subs.delete(name);
    this.unsubscribe(sub);
  }

  /** @throws ActorError WEIR_ACTOR_MESSAGE_TOO_LARGE if the message is over the server's max_payload. */
  tell(name: string, message: unknown): void {
    const subject = this.subjectOf(name);
    this.nc.publish(subject, this.fitting(encodeWire(message), `a message to actor '${name}'`));
  }

  async ask(name: string, message: unknown, timeoutMs: number): Promise<unknown> {
    const subject = this.subjectOf(name);
    const bytes = this.fitting(encodeWire(message), `a request to actor '${name}'`);
    let reply: Msg;
    try {
      reply = await this.nc.request(subject, bytes, { timeout: timeoutMs });
    } catch (e) {
      if (e instanceof RequestError && e.isNoResponders()) throw new ActorNotFoundError(name);
      if (e instanceof TimeoutError || (e as Error)?.cause instanceof TimeoutError) throw new AskTimeoutError(name, timeoutMs);
      throw e;
    }
    let env: Partial<{ ok: unknown; error: { code?: unknown; message?: unknown; name?: unknown } }>;
    try {
      env = decodeWire(reply.data) as typeof env;
    } catch (e) {
      throw new ActorError('WEIR_ACTOR_BAD_MESSAGE', `undecodable reply from actor '${name}'`, { cause: e });
    }
    if (env?.error) {
      const { code, message: text, name: errName } = env.error;
      throw new RemoteActorError(typeof code === 'string' ? code : '', String(text ?? 'remote error'), typeof errName === 'string' ? errName : 'Error');
    }
    return env?.ok;
  }

  async close(): Promise<void> {
    for (const sub of this.subs.values()) this.unsubscribe(sub);
    this.subs.clear();
  }

  private onMessage(name: string, msg: Msg, deliver: Deliver): void {
    const isAsk = Boolean(msg.reply);
    let message: unknown;
    try {
      message = decodeWire(msg.data);
    } catch (e) {
      this.log.warn({ err: e, actor: name }, 'undecodable message dropped');
      if (isAsk) this.respond(msg, errorEnvelope(new ActorError('WEIR_ACTOR_BAD_MESSAGE', `actor '${name}' got an undecodable message`)));
      return;
    }
    let reply: Promise<unknown>;
    try {
      reply = deliver(message, isAsk);
    } catch (e) {
      reply = Promise.reject(e); // a custom Deliver that throws synchronously
    }
    reply.then(
      (value) => isAsk && this.respond(msg, { ok: value }),
      (e: unknown) => {
        if (isAsk) this.respond(msg, errorEnvelope(e));
        else this.log.debug({ err: e, actor: name }, 'tell not delivered');
      },
    );
  }

  /**
   * Never throws: a reply that cannot be encoded or is too large becomes an error reply (the asker
   * learns why at once instead of timing out), a closed connection is logged.
   */
  private respond(msg: Msg, env: ReplyEnvelope): void {
    let bytes: Uint8Array;
    try {
      bytes = this.fitting(encodeWire(env), 'the reply');
    } catch (e) {
      const err = e instanceof ActorError ? e : new ActorError('WEIR_ACTOR_BAD_MESSAGE', `the reply could not be encoded: ${(e as Error)?.message ?? String(e)}`);
      bytes = encodeWire(errorEnvelope(err));
    }
    try {
      msg.respond(bytes);
    } catch (e) {
      this.log.debug({ err: e }, 'could not send a reply');
    }
  }

  /**
   * `bytes`, if the server takes a message that large (its max_payload, 1 MiB by default). NATS's
   * own refusal had no code, and a reply it refused was lost: the asker only timed out.
   */
  private fitting(bytes: Uint8Array, what: string): Uint8Array {
    const max = this.nc.info?.max_payload;
    if (max !== undefined && bytes.byteLength > max) {
      throw new ActorError('WEIR_ACTOR_MESSAGE_TOO_LARGE', `${what} is ${bytes.byteLength} bytes; the NATS server takes at most ${max} (its max_payload): raise max_payload in the server's configuration (e.g. 8MB), or send less (a checkpoint acknowledgement lists every key group's blobs: a lower maxParallelism makes it smaller)`);
    }
    return bytes;
  }

  private unsubscribe(sub: Subscription | undefined): void {
    try {
      sub?.unsubscribe();
    } catch (e) {
      this.log.debug({ err: e }, 'unsubscribe failed (connection closed?)');
    }
  }
}
