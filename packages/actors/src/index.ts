/** @weir/actors — actors with bounded mailboxes, supervision and request/reply, in one process or over NATS. */
export { ActorSystem, type ActorSystemOptions } from './actor-system.js';
export type { Actor, ActorContext, Props } from './actor.js';
export { DEFAULT_ASK_TIMEOUT_MS, type ActorRef } from './actor-ref.js';
export { Supervision, RestartBudget, type Directive, type RestartLimits, type SupervisorStrategy } from './supervision.js';
export type { Transport, Deliver } from './transport.js';
export { InProcessTransport } from './in-process-transport.js';
export { NatsTransport, type NatsTransportOptions } from './nats-transport.js';
export { ActorError, AskTimeoutError, ActorNotFoundError, MailboxFullError, RemoteActorError } from './errors.js';
export { encode, decode, encodeWire, decodeWire, DEFLATE_ABOVE } from './codec.js';
export { Mailbox } from './mailbox.js';
