import type { Logger } from 'pino';
import type { Actor, ActorContext, Props } from './actor.js';
import { LocalActorRef, type ActorRef, type LocalTarget } from './actor-ref.js';
import type { ActorSystem } from './actor-system.js';
import { AskTimeoutError, MailboxFullError, stoppedError } from './errors.js';
import { Mailbox } from './mailbox.js';
import { isThenable, within, yieldToEventLoop } from './waits.js';
import { RestartBudget, type Directive } from './supervision.js';

/** One queued message; asks carry their settle functions. */
interface Envelope {
  readonly message: unknown;
  readonly resolve?: (value: unknown) => void;
  readonly reject?: (error: unknown) => void;
}

/** A send() parked on a full mailbox. */
interface WaitingSender {
  readonly message: unknown;
  readonly accepted: () => void;
}

/** What a cell needs from its system (kept off the system's public surface). */
export interface CellHost {
  readonly system: ActorSystem;
  spawnChild<C>(parent: ActorCell<any>, name: string, props: Props<C>): ActorRef<C>;
  /** A top-level actor escalated (or ran out of restarts). */
  escalate(name: string, error: unknown): void;
  /** The cell stopped accepting messages: drop it from the transport. */
  stopping(cell: ActorCell<any>): void;
  /** The cell is fully stopped: forget it. */
  stopped(cell: ActorCell<any>): void;
}

/** How long a stop waits for the in-flight message, and for postStop. */
export const STOP_WAIT_MS = 5000;
/** Yield to the event loop after this many messages in a row, so a busy actor cannot starve I/O and timers. */
const THROUGHPUT = 64;

/**
 * The runtime of one local actor: mailbox, processing loop, supervision and children.
 * Everything that changes the actor (start, messages, child failures, stop) runs on its
 * processing loop, one step at a time, so the actor never sees concurrent calls.
 */
export class ActorCell<M> implements LocalTarget<M> {
  readonly ref: LocalActorRef<M>;
  readonly ctx: ActorContext<M>;
  readonly children = new Set<ActorCell<any>>();
  private readonly mailbox: Mailbox<Envelope>;
  private readonly senders = new Mailbox<WaitingSender>(Number.MAX_SAFE_INTEGER);
  /** Failures escalated by children; handled before the next message, like Akka's system messages. */
  private readonly childFailures: unknown[] = [];
  private readonly budget: RestartBudget;
  private instance: Actor<M> | undefined;
  private needsStart = true;
  private stopRequested = false;
  private stopping = false;
  private stopDone: Promise<void> | undefined;
  /** The processing loop while it runs; awaiting it waits for the in-flight message. */
  private loop: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly props: Props<M>,
    private readonly host: CellHost,
    readonly log: Logger,
    readonly parent: ActorCell<any> | undefined,
  ) {
    this.mailbox = new Mailbox(props.mailboxCapacity ?? 1000);
    this.budget = new RestartBudget(props.supervisor?.maxRestarts ?? 10, props.supervisor?.withinMs ?? 60_000);
    this.ref = new LocalActorRef(this);
    this.ctx = {
      self: this.ref,
      name,
      system: host.system,
      log,
      spawn: (child, childProps) => host.spawnChild(this, `${name}/${child}`, childProps),
      stop: () => {
        this.stopRequested = true;
        this.schedule(); // also works when called outside a message (e.g. from a timer)
      },
    };
  }

  /** True once the actor stopped accepting messages. */
  get isStopped(): boolean {
    return this.stopping;
  }

  /** Begin the lifecycle: preStart, then messages. */
  start(): void {
    this.schedule();
  }

  tell(message: M): void {
    if (this.stopping) return this.dropped();
    if (this.mailbox.full && this.props.overflow === 'reject') throw new MailboxFullError(this.name, this.mailbox.capacity);
    this.mailbox.push({ message });
    this.schedule();
  }

  send(message: M): Promise<void> {
    if (this.stopping) return Promise.resolve(this.dropped());
    // Queue behind earlier waiters even if a slot is free right now, so senders keep their order.
    if (this.mailbox.full || this.senders.size > 0) return new Promise((accepted) => this.senders.push({ message, accepted }));
    this.mailbox.push({ message });
    this.schedule();
    return Promise.resolve();
  }

  ask(message: M, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new AskTimeoutError(this.name, timeoutMs)), timeoutMs);
      this.request(
        message,
        (v) => (clearTimeout(timer), resolve(v)),
        (e) => (clearTimeout(timer), reject(e)),
      );
    });
  }

  /** Entry point for transports: the remote side owns the timeout. */
  deliver(message: unknown, isAsk: boolean): Promise<unknown> {
    if (isAsk) return new Promise((resolve, reject) => this.request(message, resolve, reject));
    try {
      this.tell(message as M);
      return Promise.resolve(undefined);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Stop (idempotent): rejects queued asks, waits up to 5 s for the in-flight message, stops children, runs postStop. */
  stop(): Promise<void> {
    return this.stopFrom(false);
  }

  /** Enqueue a child's escalated failure for this actor's supervisor. */
  childFailed(error: unknown): void {
    if (this.stopping) return;
    this.childFailures.push(error);
    this.schedule();
  }

  private request(message: unknown, resolve: (v: unknown) => void, reject: (e: unknown) => void): void {
    if (this.stopping) return reject(stoppedError(this.name));
    if (this.mailbox.full && this.props.overflow === 'reject') return reject(new MailboxFullError(this.name, this.mailbox.capacity));
    this.mailbox.push({ message, resolve, reject });
    this.schedule();
  }

  private dropped(): void {
    this.log.debug('message to a stopped actor dropped');
  }

  private hasWork(): boolean {
    return this.needsStart || this.stopRequested || this.childFailures.length > 0 || this.mailbox.size > 0;
  }

  private schedule(): void {
    if (this.loop || this.stopping) return;
    // Start on a microtask so tell() never runs a receive on the caller's stack.
    this.loop = Promise.resolve()
      .then(() => this.run())
      .catch((e: unknown) => this.log.error({ err: e }, 'actor loop crashed'))
      .finally(() => {
        this.loop = undefined;
        if (!this.stopping && this.hasWork()) this.schedule(); // work that arrived while the loop wound down
      });
  }

  private async run(): Promise<void> {
    let processed = 0;
    while (!this.stopping) {
      if (this.stopRequested) return void (await this.stopFrom(true));
      if (this.needsStart) {
        await this.startInstance();
        continue;
      }
      if (this.childFailures.length > 0) {
        await this.onFailure(this.childFailures.shift());
        continue;
      }
      const env = this.mailbox.shift();
      if (env === undefined) return;
      this.admitSenders();
      const pending = this.process(env);
      if (pending) await pending;
      if (++processed % THROUGHPUT === 0) await yieldToEventLoop();
    }
  }

  /** Move parked senders into freed slots, oldest first. */
  private admitSenders(): void {
    while (!this.mailbox.full && this.senders.size > 0) {
      const s = this.senders.shift()!;
      this.mailbox.push({ message: s.message });
      s.accepted();
    }
  }

  /** Returns a promise only for async receives, so sync actors skip a microtask per message. */
  private process(env: Envelope): Promise<void> | undefined {
    let result: unknown;
    try {
      result = this.instance!.receive(env.message as M, this.ctx);
    } catch (e) {
      return this.failed(env, e);
    }
    if (!isThenable(result)) return void env.resolve?.(result);
    return Promise.resolve(result).then(
      (v) => env.resolve?.(v),
      (e) => this.failed(env, e),
    );
  }

  private failed(env: Envelope, error: unknown): Promise<void> {
    env.reject?.(error); // the failing message is dropped; its asker gets the error itself
    return this.onFailure(error);
  }

  private async startInstance(): Promise<void> {
    this.needsStart = false;
    try {
      this.instance = this.props.create();
      await this.instance.preStart?.(this.ctx);
    } catch (e) {
      await this.onFailure(e);
    }
  }

  /** Apply the supervisor's directive. Runs on the loop only. */
  private async onFailure(error: unknown): Promise<void> {
    if (this.stopping) return; // an external stop is already tearing the actor down
    let directive: Directive;
    try {
      directive = this.props.supervisor?.decide(error) ?? 'restart';
    } catch (e) {
      this.log.error({ err: e }, 'supervisor decide() threw; stopping the actor');
      directive = 'stop';
    }
    if (directive === 'resume' && !this.instance) directive = 'stop'; // create() failed: nothing to resume
    this.log.warn({ err: error, directive }, 'actor failed');
    switch (directive) {
      case 'resume':
        return;
      case 'restart':
        if (this.budget.take(Date.now())) return this.restart();
        this.log.error({ maxRestarts: this.props.supervisor?.maxRestarts ?? 10 }, 'too many restarts; stopping the actor');
        await this.stopFrom(true);
        return this.escalateUp(error);
      case 'escalate':
        await this.stopFrom(true);
        return this.escalateUp(error);
      default:
        return this.stopFrom(true);
    }
  }

  private async restart(): Promise<void> {
    // Children belong to the old instance; a fresh one starts without them.
    await Promise.all([...this.children].map((c) => c.stop()));
    await this.runPostStop();
    this.instance = undefined;
    this.needsStart = true;
  }

  private escalateUp(error: unknown): void {
    if (this.parent) this.parent.childFailed(error);
    else this.host.escalate(this.name, error);
  }

  /** `fromLoop`: called by the loop itself, which must not wait for its own in-flight message. */
  private stopFrom(fromLoop: boolean): Promise<void> {
    this.stopDone ??= this.teardown(fromLoop);
    return this.stopDone;
  }

  private async teardown(fromLoop: boolean): Promise<void> {
    this.stopping = true;
    this.host.stopping(this);
    const queued = this.mailbox.drain();
    for (const env of queued) env.reject?.(stoppedError(this.name));
    if (queued.length > 0) this.log.debug({ dropped: queued.length }, 'queued messages of a stopping actor dropped');
    for (const s of this.senders.drain()) s.accepted(); // never leave a sender parked on a dead mailbox
    this.childFailures.length = 0;
    if (!fromLoop && this.loop && !(await within(this.loop, STOP_WAIT_MS))) {
      this.log.warn({ waitedMs: STOP_WAIT_MS }, 'in-flight message still running; stopping anyway');
    }
    await Promise.all([...this.children].map((c) => c.stop()));
    await this.runPostStop();
    this.parent?.children.delete(this);
    this.host.stopped(this);
  }

  private async runPostStop(): Promise<void> {
    const instance = this.instance;
    if (!instance?.postStop) return;
    const done = Promise.resolve()
      .then(() => instance.postStop!(this.ctx))
      .catch((e: unknown) => this.log.warn({ err: e }, 'postStop failed'));
    if (!(await within(done, STOP_WAIT_MS))) this.log.warn({ waitedMs: STOP_WAIT_MS }, 'postStop did not finish; going on');
  }
}
