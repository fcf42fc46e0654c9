import type { Logger } from 'pino';
import type { ActorSystem } from './actor-system.js';
import type { SupervisorStrategy } from './supervision.js';

export interface ActorRef<M> {
  readonly name: string;
  /** Fire and forget. */
  tell(message: M): void;
  /** Resolves once the message is in the mailbox; waits while the mailbox is full (backpressure). */
  send(message: M): Promise<void>;
  /** Request/reply with a timeout (default 5000 ms). */
  ask<R = unknown>(message: M, opts?: { timeoutMs?: number }): Promise<R>;
}

export interface ActorContext<M> {
  readonly self: ActorRef<M>;
  readonly name: string;
  readonly system: ActorSystem;
  readonly log: Logger;
  /** A child actor, named `<parent>/<name>`, stopped with its parent; its escalations fail the parent. */
  spawn<C>(name: string, props: Props<C>): ActorRef<C>;
  /** Stop self after the current message. */
  stop(): void;
}

export interface Actor<M, R = unknown> {
  /** One message at a time, FIFO; the value returned (or resolved) answers an ask. */
  receive(message: M, ctx: ActorContext<M>): R | Promise<R>;
  preStart?(ctx: ActorContext<M>): void | Promise<void>;
  postStop?(ctx: ActorContext<M>): void | Promise<void>;
}

export interface Props<M> {
  /** Called again on restart: a restart is a fresh instance with the mailbox kept. */
  create: () => Actor<M, any>;
  /** Default 1000. */
  mailboxCapacity?: number;
  /** 'backpressure' (default): tell always enqueues, send() waits for space. 'reject': tell throws when full. */
  overflow?: 'reject' | 'backpressure';
  /** Default: restart. */
  supervisor?: SupervisorStrategy;
}
