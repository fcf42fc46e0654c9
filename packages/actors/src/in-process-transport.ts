import { ActorNotFoundError, AskTimeoutError } from './errors.js';
import type { Deliver, Transport } from './transport.js';

/** Actors of every ActorSystem sharing this instance can address each other; nothing is serialized. */
export class InProcessTransport implements Transport {
  private readonly actors = new Map<string, Deliver>();
  register(name: string, deliver: Deliver): void {
    this.actors.set(name, deliver);
  }
  unregister(name: string): void {
    this.actors.delete(name);
  }
  tell(name: string, message: unknown): void {
    void this.actors.get(name)?.(message, false).catch(() => undefined);
  }
  ask(name: string, message: unknown, timeoutMs: number): Promise<unknown> {
    const d = this.actors.get(name);
    if (!d) return Promise.reject(new ActorNotFoundError(name));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new AskTimeoutError(name, timeoutMs)), timeoutMs);
      d(message, true).then(
        (v) => (clearTimeout(t), resolve(v)),
        (e) => (clearTimeout(t), reject(e)),
      );
    });
  }
  async close(): Promise<void> {
    this.actors.clear();
  }
}
