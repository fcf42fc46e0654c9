/** Typed actor errors with stable codes. */
export class ActorError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
export class AskTimeoutError extends ActorError {
  constructor(name: string, ms: number) {
    super('WEIR_ACTOR_ASK_TIMEOUT', `actor '${name}' did not answer within ${ms} ms`);
  }
}
export class ActorNotFoundError extends ActorError {
  constructor(name: string) {
    super('WEIR_ACTOR_NOT_FOUND', `no actor named '${name}'`);
  }
}
export class MailboxFullError extends ActorError {
  constructor(name: string, capacity: number) {
    super('WEIR_ACTOR_MAILBOX_FULL', `mailbox of actor '${name}' is full (${capacity} messages)`);
  }
}
/** An error that crossed a process boundary: keeps the remote code and message. */
export class RemoteActorError extends ActorError {
  readonly remoteCode: string;
  constructor(remoteCode: string, message: string) {
    super(remoteCode.length > 0 ? remoteCode : 'WEIR_ACTOR_REMOTE_ERROR', message);
    this.remoteCode = remoteCode;
  }
}
