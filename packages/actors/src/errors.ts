/**
 * Typed actor errors. Every error carries a stable `code` so callers (and remote peers)
 * can switch on it instead of parsing messages.
 *
 * Codes: WEIR_ACTOR_ASK_TIMEOUT, WEIR_ACTOR_NOT_FOUND, WEIR_ACTOR_STOPPED,
 * WEIR_ACTOR_MAILBOX_FULL, WEIR_ACTOR_NAME_TAKEN, WEIR_ACTOR_REMOTE_ERROR,
 * WEIR_ACTOR_BAD_NAME, WEIR_ACTOR_BAD_MESSAGE (the registry is docs/errors.md).
 */
export class ActorError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An ask got no reply within its timeout. Code WEIR_ACTOR_ASK_TIMEOUT. */
export class AskTimeoutError extends ActorError {
  constructor(actorName: string, timeoutMs: number) {
    super('WEIR_ACTOR_ASK_TIMEOUT', `actor '${actorName}' did not answer within ${timeoutMs} ms`);
  }
}

/** Nobody serves this actor name. Code WEIR_ACTOR_NOT_FOUND. */
export class ActorNotFoundError extends ActorError {
  constructor(actorName: string) {
    super('WEIR_ACTOR_NOT_FOUND', `no actor named '${actorName}'`);
  }
}

/** A bounded mailbox with overflow 'reject' is full. Code WEIR_ACTOR_MAILBOX_FULL. */
export class MailboxFullError extends ActorError {
  constructor(actorName: string, capacity: number) {
    super('WEIR_ACTOR_MAILBOX_FULL', `mailbox of actor '${actorName}' is full (${capacity} messages)`);
  }
}

/**
 * An error that crossed a process boundary: keeps the remote code and message.
 * `code` is the remote error's code when it had one (so callers can switch on `err.code`
 * whether the actor is local or remote), else WEIR_ACTOR_REMOTE_ERROR.
 */
export class RemoteActorError extends ActorError {
  /** The code the remote error carried; '' when it had none. */
  readonly remoteCode: string;
  /** The remote error's `name` (e.g. 'TypeError'). */
  readonly remoteName: string;
  constructor(remoteCode: string, message: string, remoteName = 'Error') {
    super(remoteCode.length > 0 ? remoteCode : 'WEIR_ACTOR_REMOTE_ERROR', message);
    this.remoteCode = remoteCode;
    this.remoteName = remoteName;
  }
}

/** The ActorError for a message that reached (or was queued for) a stopped actor. */
export const stoppedError = (actorName: string): ActorError => new ActorError('WEIR_ACTOR_STOPPED', `actor '${actorName}' is stopped`);
