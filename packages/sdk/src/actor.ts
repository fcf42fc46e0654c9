import type { JobArgs } from './args.js';
import type { StateDecls, StateOf } from './state.js';

/** Keys that can partition a stream: strings, numbers, or tuples of them. */
export type Key = string | number | readonly (string | number)[];

/**
 * What a handler returns: one output record, a generator of outputs (`function*` handlers that
 * `yield`), or nothing. Output types are inferred from it, so user code needs no annotations.
 */
export type Emits<Out> = Out | Generator<Out, unknown, unknown> | void | undefined;

/** Logging from user code; lines carry job, operator and subtask. */
export interface UserLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Processing-time timers (keyed streams only). Timers are per key and deduplicated by time. */
export interface Timers {
  /** Fire `onTimer` at `time` (epoch ms) for the current key. */
  at(time: number): void;
  /** Fire `onTimer` after `ms` milliseconds for the current key. */
  after(ms: number): void;
  /** Forget a timer of the current key. */
  delete(time: number): void;
}

export interface SubtaskInfo {
  readonly index: number;
  readonly parallelism: number;
  readonly operatorUid: string;
}

/** The context handed to an actor's handlers. */
export interface ActorContext<S extends StateDecls> {
  /** State for the current key (keyed) or for this subtask (non-keyed). */
  readonly state: StateOf<S>;
  /** The current key, on keyed streams. */
  readonly key: Key | undefined;
  readonly timers: Timers;
  readonly args: JobArgs;
  readonly subtask: SubtaskInfo;
  readonly log: UserLogger;
  /** Processing time now (epoch ms). */
  now(): number;
}

/** What `defineActor` takes. Declare the input type once, on `onMessage`'s first parameter. */
export interface ActorSpec<In, Out, S extends StateDecls> {
  readonly state?: S;
  /**
   * Non-keyed actors: how the per-subtask state is spread when the job restores at another
   * parallelism (keyed state always moves with its keys). `split` (default): list elements and
   * map entries of all old subtasks are dealt round-robin over the new subtasks, and new subtask
   * k keeps old subtask k's values (none if there was no subtask k). `union`: every new subtask
   * gets all list elements, all map entries (a later old subtask wins on an equal key) and old
   * subtask 0's values.
   */
  readonly redistribution?: 'split' | 'union';
  onMessage(message: In, ctx: ActorContext<S>): Emits<Out>;
  /** A processing-time timer of the current key fired. Needs a keyed stream. */
  onTimer?(time: number, ctx: ActorContext<S>): Emits<Out>;
  /** The bounded input ended; called once per subtask, with subtask (non-keyed) state. */
  onEnd?(ctx: ActorContext<S>): Emits<Out>;
}

export const ACTOR_BRAND: unique symbol = Symbol.for('weir.actor') as never;

/** A user-defined stateful operator. */
export interface ActorDefinition<In, Out, S extends StateDecls = StateDecls> extends ActorSpec<In, Out, S> {
  readonly [ACTOR_BRAND]: true;
  readonly state: S;
}

/**
 * Define a stateful operator. On a keyed stream there is one logical instance per key, with its
 * own state and timers; on a non-keyed stream, one per subtask.
 *
 * @example
 * const counter = defineActor({
 *   state: { count: valueState(0) },
 *   onMessage(word: string, { state }) {
 *     const n = state.count.get() + 1;
 *     state.count.set(n);
 *     return { word, n };
 *   },
 * });
 */
export function defineActor<In, Out = never, S extends StateDecls = {}>(
  spec: ActorSpec<In, Out, S>,
): ActorDefinition<In, Out, S> {
  return { ...spec, state: (spec.state ?? {}) as S, [ACTOR_BRAND]: true };
}

export function isActorDefinition(x: unknown): x is ActorDefinition<unknown, unknown> {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[ACTOR_BRAND] === true;
}
