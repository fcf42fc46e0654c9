import type { Transport } from './transport.js';

/** A handle to an actor, local or remote. */
export interface ActorRef<M> {
  readonly name: string;
  /** Fire and forget. Local: enqueue (MailboxFullError if full and overflow='reject'). Remote: publish. */
  tell(message: M): void;
  /**
   * Like tell but resolves once the message is accepted into the mailbox; waits while the
   * mailbox is full (backpressure). Waiting senders are admitted in call order. Remote: same as tell.
   */
  send(message: M): Promise<void>;
  /**
   * Request/reply with a timeout (default 5000 ms). Rejects with AskTimeoutError on timeout,
   * ActorNotFoundError if no such actor, or the error the receive threw (local: the same error
   * object; remote: RemoteActorError carrying code and message).
   */
  ask<R = unknown>(message: M, opts?: { timeoutMs?: number }): Promise<R>;
}

/** The default ask timeout. */
export const DEFAULT_ASK_TIMEOUT_MS = 5000;
// setTimeout fires at once for delays beyond a signed 32-bit int; clamp instead.
const MAX_TIMER_MS = 2_147_483_647;

/** Validate and normalise an ask timeout. */
export function askTimeoutMs(opts?: { timeoutMs?: number }): number {
  const ms = opts?.timeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
  if (typeof ms !== 'number' || !(ms > 0)) throw new RangeError(`ask timeout must be a positive number of milliseconds, got ${String(ms)}`);
  return Math.min(Math.ceil(ms), MAX_TIMER_MS);
}

/** What a local reference drives (implemented by the actor's cell). */
export interface LocalTarget<M> {
  readonly name: string;
  tell(message: M): void;
  send(message: M): Promise<void>;
  ask(message: M, timeoutMs: number): Promise<unknown>;
}

/** A reference to an actor of this system: messages are passed by reference, never serialized. */
export class LocalActorRef<M> implements ActorRef<M> {
  readonly name: string;
  constructor(private readonly target: LocalTarget<M>) {
    this.name = target.name;
  }
  tell(message: M): void {
    this.target.tell(message);
  }
  send(message: M): Promise<void> {
    return this.target.send(message);
  }
  ask<R = unknown>(message: M, opts?: { timeoutMs?: number }): Promise<R> {
    try {
      return this.target.ask(message, askTimeoutMs(opts)) as Promise<R>;
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

/** A reference by name through a transport (another system, maybe another process). */
export class RemoteActorRef<M> implements ActorRef<M> {
  constructor(
    readonly name: string,
    private readonly transport: Transport,
  ) {}
  tell(message: M): void {
    this.transport.tell(this.name, message);
  }
  async send(message: M): Promise<void> {
    this.transport.tell(this.name, message);
  }
  async ask<R = unknown>(message: M, opts?: { timeoutMs?: number }): Promise<R> {
    return (await this.transport.ask(this.name, message, askTimeoutMs(opts))) as R;
  }
}
