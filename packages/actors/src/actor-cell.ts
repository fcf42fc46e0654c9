import type { Logger } from 'pino';
import type { Actor, ActorContext, ActorRef, Props } from './actor.js';
import type { ActorSystem } from './actor-system.js';
import { ActorError, MailboxFullError } from './errors.js';
import { Mailbox } from './mailbox.js';
import { RestartBudget, type Directive } from './supervision.js';

interface Envelope {
  message: unknown;
  resolve?: (v: unknown) => void;
  reject?: (e: unknown) => void;
}

/** The runtime of one local actor: mailbox, processing loop, supervision, children. */
export class ActorCell<M> implements ActorRef<M> {
  private readonly mailbox: Mailbox<Envelope>;
  private instance: Actor<M>;
  private running = false;
  private stopped = false;
  private stopAfterCurrent = false;
  private readonly spaceWaiters: (() => void)[] = [];
  private readonly budget: RestartBudget;
  private started: Promise<void>;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};
  readonly children = new Set<ActorCell<unknown>>();
  readonly ctx: ActorContext<M>;

  constructor(
    readonly name: string,
    private readonly props: Props<M>,
    private readonly system: ActorSystem,
    readonly log: Logger,
    private readonly parent: ActorCell<unknown> | undefined,
    private readonly onStopped: (cell: ActorCell<M>) => void,
  ) {
    this.mailbox = new Mailbox(props.mailboxCapacity ?? 1000);
    const s = props.supervisor;
    this.budget = new RestartBudget(s?.maxRestarts ?? 10, s?.withinMs ?? 60_000);
    this.ctx = {
      self: this,
      name,
      system,
      log,
      spawn: (child, p) => system.spawnChild(this as ActorCell<unknown>, `${name}/${child}`, p),
      stop: () => {
        this.stopAfterCurrent = true;
      },
    };
    this.instance = props.create();
    this.started = Promise.resolve(this.instance.preStart?.(this.ctx)).then(() => undefined);
    this.started.catch((e) => this.fail(e));
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  private enqueue(env: Envelope): void {
    if (this.stopped) {
      env.reject?.(new ActorError('WEIR_ACTOR_STOPPED', `actor '${this.name}' is stopped`));
      if (!env.reject) this.log.debug('message to a stopped actor dropped');
      return;
    }
    this.mailbox.push(env);
    if (!this.running) void this.run();
  }

  tell(message: M): void {
    if (this.props.overflow === 'reject' && this.mailbox.full) throw new MailboxFullError(this.name, this.mailbox.capacity);
    this.enqueue({ message });
  }

  async send(message: M): Promise<void> {
    while (this.mailbox.full && !this.stopped) await new Promise<void>((r) => this.spaceWaiters.push(r));
    this.enqueue({ message });
  }

  /** Deliver and get the reply (used by asks, local and from transports). */
  deliver(message: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => this.enqueue({ message, resolve, reject }));
  }

  ask<R = unknown>(message: M, opts?: { timeoutMs?: number }): Promise<R> {
    return this.system.askLocal(this, message, opts?.timeoutMs ?? 5000) as Promise<R>;
  }

  private async run(): Promise<void> {
    this.running = true;
    this.idle = new Promise((r) => (this.markIdle = r));
    await this.started.catch(() => undefined);
    for (let env = this.mailbox.shift(); env !== undefined && !this.stopped; env = this.mailbox.shift()) {
      const waiter = this.spaceWaiters.shift();
      waiter?.();
      try {
        const v = await this.instance.receive(env.message as M, this.ctx);
        env.resolve?.(v);
      } catch (e) {
        env.reject?.(e);
        await this.fail(e);
      }
      if (this.stopAfterCurrent) await this.stop();
    }
    this.running = false;
    this.markIdle();
  }

  /** Apply the supervisor's directive to a failure. */
  async fail(error: unknown): Promise<void> {
    const directive: Directive = this.props.supervisor?.decide(error) ?? 'restart';
    this.log.warn({ err: error, directive }, 'actor failed');
    if (directive === 'resume') return;
    if (directive === 'restart' && this.budget.take(Date.now())) {
      await Promise.resolve(this.instance.postStop?.(this.ctx)).catch(() => undefined);
      this.instance = this.props.create();
      this.started = Promise.resolve(this.instance.preStart?.(this.ctx)).then(() => undefined);
      await this.started.catch(() => undefined);
      return;
    }
    await this.stop();
    if (directive === 'escalate' || directive === 'restart') {
      if (this.parent) await this.parent.fail(error);
      else this.system.escalate(this.name, error);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const c of [...this.children]) await c.stop();
    for (const env of this.mailbox.drain()) env.reject?.(new ActorError('WEIR_ACTOR_STOPPED', `actor '${this.name}' stopped`));
    for (const w of this.spaceWaiters.splice(0)) w();
    await Promise.resolve(this.instance.postStop?.(this.ctx)).catch((e) => this.log.warn({ err: e }, 'postStop failed'));
    this.parent?.children.delete(this as ActorCell<unknown>);
    this.onStopped(this);
  }

  /** Resolves when the in-flight message (if any) is done. */
  whenIdle(): Promise<void> {
    return this.running ? this.idle : Promise.resolve();
  }
}
