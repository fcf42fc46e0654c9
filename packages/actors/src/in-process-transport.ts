import { ActorError, ActorNotFoundError, AskTimeoutError } from './errors.js';
import type { Deliver, Transport } from './transport.js';

/**
 * Name registry inside one process. Every ActorSystem given the same instance can address the
 * others' actors by name. Nothing is serialized: messages and replies are passed by reference.
 */
export class InProcessTransport implements Transport {
  private readonly actors = new Map<string, Deliver>();

  /** Throws ActorError WEIR_ACTOR_NAME_TAKEN if another system on this transport has the name. */
  register(name: string, deliver: Deliver): void {
    if (this.actors.has(name)) throw new ActorError('WEIR_ACTOR_NAME_TAKEN', `an actor named '${name}' is already registered on this transport`);
    this.actors.set(name, deliver);
  }

  unregister(name: string): void {
    this.actors.delete(name);
  }

  /** Fire and forget, like a remote tell: unknown names, full or stopped mailboxes drop the message. */
  tell(name: string, message: unknown): void {
    this.actors.get(name)?.(message, false).catch(() => undefined);
  }

  ask(name: string, message: unknown, timeoutMs: number): Promise<unknown> {
    const deliver = this.actors.get(name);
    if (!deliver) return Promise.reject(new ActorNotFoundError(name));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new AskTimeoutError(name, timeoutMs)), timeoutMs);
      deliver(message, true).then(
        (v) => (clearTimeout(timer), resolve(v)),
        (e: unknown) => (clearTimeout(timer), reject(e)),
      );
    });
  }

  async close(): Promise<void> {
    this.actors.clear();
  }
}
