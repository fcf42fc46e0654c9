import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { decode, encode } from './codec.js';
import { ActorError, ActorNotFoundError, AskTimeoutError, RemoteActorError } from './errors.js';
import type { Deliver, Transport } from './transport.js';

const NAME = /^[A-Za-z0-9_\-/]+$/;

/**
 * Actors across processes: actor `n` listens on `<prefix>.<n>` ('/' becomes '.'); tell is a
 * publish, ask a request with a timeout. The connection is the caller's; close() only unsubscribes.
 */
export class NatsTransport implements Transport {
  private readonly subs = new Map<string, Subscription>();
  private readonly prefix: string;

  constructor(
    private readonly nc: NatsConnection,
    opts: { prefix?: string } = {},
  ) {
    this.prefix = opts.prefix ?? 'weir.actor';
  }

  private subject(name: string): string {
    if (!NAME.test(name)) throw new ActorError('WEIR_ACTOR_BAD_NAME', `actor name '${name}' may only contain letters, digits, '_', '-' and '/'`);
    return `${this.prefix}.${name.replaceAll('/', '.')}`;
  }

  register(name: string, deliver: Deliver): void {
    const sub = this.nc.subscribe(this.subject(name), {
      callback: (err, msg) => {
        if (err) return;
        let message: unknown;
        try {
          message = decode(msg.data);
        } catch (e) {
          if (msg.reply) msg.respond(encode({ error: { code: 'WEIR_ACTOR_BAD_MESSAGE', message: `undecodable message: ${(e as Error).message}` } }));
          return;
        }
        const isAsk = Boolean(msg.reply);
        deliver(message, isAsk).then(
          (value) => isAsk && msg.respond(encode({ ok: value === undefined ? null : value })),
          (e: unknown) => {
            if (!isAsk) return;
            const err = e as { code?: unknown; message?: unknown; name?: unknown };
            msg.respond(encode({ error: { code: typeof err?.code === 'string' ? err.code : '', message: String(err?.message ?? e), name: String(err?.name ?? 'Error') } }));
          },
        );
      },
    });
    this.subs.set(name, sub);
  }

  unregister(name: string): void {
    this.subs.get(name)?.unsubscribe();
    this.subs.delete(name);
  }

  tell(name: string, message: unknown): void {
    this.nc.publish(this.subject(name), encode(message));
  }

  async ask(name: string, message: unknown, timeoutMs: number): Promise<unknown> {
    let reply;
    try {
      reply = await this.nc.request(this.subject(name), encode(message), { timeout: timeoutMs });
    } catch (e) {
      const text = String((e as Error)?.message ?? e) + String((e as { code?: unknown })?.code ?? '');
      if (/no responders|503/i.test(text)) throw new ActorNotFoundError(name);
      if (/timeout/i.test(text)) throw new AskTimeoutError(name, timeoutMs);
      throw e;
    }
    const env = decode(reply.data) as { ok?: unknown; error?: { code: string; message: string } };
    if (env.error) throw new RemoteActorError(env.error.code, env.error.message);
    return env.ok;
  }

  async close(): Promise<void> {
    for (const s of this.subs.values()) s.unsubscribe();
    this.subs.clear();
  }
}
