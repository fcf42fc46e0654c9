/**
 * Base class of every error Weir raises on purpose. `code` is stable and documented in
 * docs/errors.md; `message` says what to fix.
 */
export class WeirError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The job graph is invalid: a duplicate uid, a keyed operator without keyBy, a bad parallelism... */
export class GraphValidationError extends WeirError {}

/** A job argument (`--arg key=value`) is missing or has the wrong shape. */
export class JobArgumentError extends WeirError {
  constructor(message: string) {
    super('WEIR_JOB_ARG_INVALID', message);
  }
}

/** State was used where it cannot be: outside a keyed context, or with a wrong declaration. */
export class StateAccessError extends WeirError {}
