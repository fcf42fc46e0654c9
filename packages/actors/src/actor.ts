import type { Logger } from 'pino';
import type { ActorRef } from './actor-ref.js';
import type { ActorSystem } from './actor-system.js';
import type { SupervisorStrategy } from './supervision.js';

/** What an actor sees of its runtime while it handles a message. */
export interface ActorContext<M> {
  readonly self: ActorRef<M>;
  readonly name: string;
  readonly system: ActorSystem;
  /** Child logger bound with `{ actor: name }`. */
  readonly log: Logger;
  /**
   * Spawn a child actor named `${parent}/${name}`. Children are stopped when the parent stops
   * or restarts; a child failure with 'escalate' (or an exhausted restart budget) is treated as
   * a failure of the parent.
   */
  spawn<C>(name: string, props: Props<C>): ActorRef<C>;
  /** Stop self after the current message (from preStart: before the first message). */
  stop(): void;
}

/** An actor: a message handler with optional lifecycle hooks. */
export interface Actor<M, R = unknown> {
  /**
   * Handle one message. The returned value (or resolved promise) is the reply to an ask.
   * Messages are processed one at a time, in FIFO order; an async receive is awaited before
   * the next message.
   */
  receive(message: M, ctx: ActorContext<M>): R | Promise<R>;
  /** Runs before the first message, and again on each fresh instance after a restart. A failure here is supervised like a receive failure. */
  preStart?(ctx: ActorContext<M>): void | Promise<void>;
  /** Runs when the actor stops, and on the old instance before a restart. Bounded to 5 s. */
  postStop?(ctx: ActorContext<M>): void | Promise<void>;
}

/** How to create and run an actor. */
export interface Props<M> {
  /**
   * Called again on restart: a restart is a fresh instance (state reset) with the mailbox kept;
   * the failing message is dropped (an ask waiting on it is rejected with the error).
   */
  create: () => Actor<M, any>;
  /** Bounded FIFO capacity (messages waiting, not counting the one in flight). Default 1000. */
  mailboxCapacity?: number;
  /**
   * Default 'backpressure': tell() still enqueues past capacity (never drops) while send()
   * waits for space. 'reject': tell() and ask() fail with MailboxFullError at capacity.
   */
  overflow?: 'reject' | 'backpressure';
  /** Default: Supervision.restart(). */
  supervisor?: SupervisorStrategy;
}
