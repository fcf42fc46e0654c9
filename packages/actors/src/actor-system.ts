import { pino, type Logger } from 'pino';
import type { Props } from './actor.js';
import { ActorCell, type CellHost } from './actor-cell.js';
import { LocalActorRef, RemoteActorRef, type ActorRef } from './actor-ref.js';
import { ActorError } from './errors.js';
import { InProcessTransport } from './in-process-transport.js';
import type { Transport } from './transport.js';

/** Options of an {@link ActorSystem}. */
export interface ActorSystemOptions {
  readonly name: string;
  /** Default: a private InProcessTransport (owned, closed by shutdown). */
  readonly transport?: Transport;
  /** Default: silent. */
  readonly logger?: Logger;
  /** A top-level actor escalated a failure, or ran out of restarts; it has been stopped. */
  readonly onEscalate?: (actorName: string, error: unknown) => void;
}

/**
 * Hosts local actors and reaches remote ones through its transport. Actor names are global
 * within a transport (over NATS: across processes sharing the prefix).
 */
export class ActorSystem {
  readonly name: string;
  readonly transport: Transport;
  private readonly ownsTransport: boolean;
  private readonly cells = new Map<string, ActorCell<any>>();
  private readonly log: Logger;
  private readonly host: CellHost;
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: ActorSystemOptions) {
    this.name = opts.name;
    this.ownsTransport = opts.transport === undefined;
    this.transport = opts.transport ?? new InProcessTransport();
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ actorSystem: opts.name });
    this.host = {
      system: this,
      spawnChild: (parent, name, props) => this.create(parent, name, props),
      escalate: (name, error) => this.escalated(name, error),
      stopping: (cell) => this.unregister(cell.name),
      stopped: (cell) => {
        if (this.cells.get(cell.name) === cell) this.cells.delete(cell.name);
      },
    };
  }

  /**
   * Start a top-level actor. Throws ActorError WEIR_ACTOR_NAME_TAKEN if a local actor (or, on a
   * shared transport, another system's actor) already has the name; WEIR_ACTOR_BAD_NAME if the
   * transport cannot address it; TypeError/RangeError for invalid props.
   */
  spawn<M>(name: string, props: Props<M>): ActorRef<M> {
    return this.create(undefined, name, props);
  }

  /**
   * A reference by name: a local actor if this system has it, else a remote one through the
   * transport. Never throws for unknown names (errors surface on ask).
   */
  ref<M>(name: string): ActorRef<M> {
    const cell = this.cells.get(name);
    return cell ? (cell.ref as ActorRef<M>) : new RemoteActorRef<M>(name, this.transport);
  }

  /**
   * Stop a local actor: queued asks are rejected (WEIR_ACTOR_STOPPED), the in-flight message
   * gets up to 5 s, then children stop, postStop runs and the name is unregistered. Unknown or
   * remote names are ignored. From inside the actor itself, prefer `ctx.stop()`.
   */
  async stop(ref: ActorRef<unknown> | string): Promise<void> {
    const cell = this.cells.get(typeof ref === 'string' ? ref : ref.name);
    if (!cell) return;
    // A ref of an earlier incarnation must not stop a new actor that reused the name.
    if (ref instanceof LocalActorRef && ref !== cell.ref) return;
    await cell.stop();
  }

  /** Stop all actors (concurrently; each in-flight message gets at most 5 s). Further spawns throw. */
  shutdown(): Promise<void> {
    this.closing ??= this.stopAll();
    return this.closing;
  }

  private async stopAll(): Promise<void> {
    await Promise.all([...this.cells.values()].map((c) => c.stop()));
    // A transport passed in may be shared with other systems; only close our own.
    if (this.ownsTransport) await this.transport.close();
  }

  private create<M>(parent: ActorCell<any> | undefined, name: string, props: Props<M>): ActorRef<M> {
    if (this.closing) throw new ActorError('WEIR_ACTOR_STOPPED', `actor system '${this.name}' is shut down; cannot spawn '${name}'`);
    if (typeof name !== 'string' || name.length === 0) throw new ActorError('WEIR_ACTOR_BAD_NAME', 'an actor name must be a non-empty string');
    checkProps(name, props);
    if (parent?.isStopped) throw new ActorError('WEIR_ACTOR_STOPPED', `cannot spawn '${name}': its parent '${parent.name}' is stopped`);
    if (this.cells.has(name)) throw new ActorError('WEIR_ACTOR_NAME_TAKEN', `an actor named '${name}' already runs in system '${this.name}'`);
    const cell = new ActorCell<M>(name, props, this.host, this.log.child({ actor: name }), parent);
    // Register first: a synchronous refusal (bad name, name taken on a shared transport) leaves nothing behind.
    const registered = this.transport.register(name, (message, isAsk) => cell.deliver(message, isAsk));
    this.cells.set(name, cell);
    parent?.children.add(cell);
    if (registered) registered.catch((e: unknown) => this.log.error({ err: e, actor: name }, 'could not register the actor with the transport'));
    cell.start();
    return cell.ref;
  }

  private unregister(name: string): void {
    try {
      const done = this.transport.unregister(name);
      if (done) done.catch((e: unknown) => this.log.warn({ err: e, actor: name }, 'could not unregister the actor'));
    } catch (e) {
      this.log.warn({ err: e, actor: name }, 'could not unregister the actor');
    }
  }

  private escalated(name: string, error: unknown): void {
    this.log.error({ err: error, actor: name }, 'actor failure escalated to the system');
    try {
      this.opts.onEscalate?.(name, error);
    } catch (e) {
      this.log.error({ err: e }, 'onEscalate threw');
    }
  }
}

function checkProps(name: string, props: Props<unknown>): void {
  // Programmer errors, not runtime conditions: standard error types, no code.
  if (typeof props?.create !== 'function') throw new TypeError(`props of actor '${name}': create must be a function`);
  const cap = props.mailboxCapacity;
  if (cap !== undefined && (!Number.isInteger(cap) || cap < 1)) throw new RangeError(`props of actor '${name}': mailboxCapacity must be a positive integer, got ${cap}`);
  if (props.overflow !== undefined && props.overflow !== 'reject' && props.overflow !== 'backpressure') {
    throw new RangeError(`props of actor '${name}': overflow must be 'reject' or 'backpressure', got '${String(props.overflow)}'`);
  }
}
