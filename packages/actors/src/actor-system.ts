import pino, { type Logger } from 'pino';
import type { ActorRef, Props } from './actor.js';
import { ActorCell } from './actor-cell.js';
import { ActorError, AskTimeoutError } from './errors.js';
import { InProcessTransport } from './in-process-transport.js';
import type { Transport } from './transport.js';

export interface ActorSystemOptions {
  readonly name: string;
  /** Default: a private InProcessTransport. */
  readonly transport?: Transport;
  readonly logger?: Logger;
  /** A top-level actor escalated a failure (or ran out of restarts). */
  readonly onEscalate?: (actorName: string, error: unknown) => void;
}

/** Hosts local actors and reaches remote ones through its transport. */
export class ActorSystem {
  readonly name: string;
  readonly transport: Transport;
  private readonly cells = new Map<string, ActorCell<any>>();
  private readonly log: Logger;

  constructor(private readonly opts: ActorSystemOptions) {
    this.name = opts.name;
    this.transport = opts.transport ?? new InProcessTransport();
    this.log = opts.logger ?? pino({ level: 'silent' });
  }

  spawn<M>(name: string, props: Props<M>): ActorRef<M> {
    return this.spawnChild(undefined, name, props);
  }

  /** @internal */
  spawnChild<M>(parent: ActorCell<unknown> | undefined, name: string, props: Props<M>): ActorRef<M> {
    if (this.cells.has(name)) throw new ActorError('WEIR_ACTOR_NAME_TAKEN', `an actor named '${name}' already runs in system '${this.name}'`);
    const cell = new ActorCell<M>(name, props, this, this.log.child({ actor: name }), parent, (c) => {
      this.cells.delete(c.name);
      void Promise.resolve(this.transport.unregister(c.name)).catch(() => undefined);
    });
    this.cells.set(name, cell);
    parent?.children.add(cell as ActorCell<unknown>);
    void Promise.resolve(this.transport.register(name, (m, isAsk) => (isAsk ? cell.deliver(m) : (cell.tell(m as M), Promise.resolve(undefined))))).catch((e) =>
      this.log.error({ err: e, actor: name }, 'could not register actor with the transport'),
    );
    return cell;
  }

  /** A reference by name: local if this system hosts it, else through the transport. */
  ref<M>(name: string): ActorRef<M> {
    const local = this.cells.get(name);
    if (local) return local;
    const t = this.transport;
    return {
      name,
      tell: (m) => t.tell(name, m),
      send: async (m) => t.tell(name, m),
      ask: <R>(m: M, o?: { timeoutMs?: number }) => t.ask(name, m, o?.timeoutMs ?? 5000) as Promise<R>,
    };
  }

  /** @internal */
  askLocal(cell: ActorCell<any>, message: unknown, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new AskTimeoutError(cell.name, timeoutMs)), timeoutMs);
      cell.deliver(message).then(
        (v) => (clearTimeout(t), resolve(v)),
        (e) => (clearTimeout(t), reject(e)),
      );
    });
  }

  /** @internal */
  escalate(name: string, error: unknown): void {
    this.log.error({ err: error, actor: name }, 'actor failure escalated to the system');
    this.opts.onEscalate?.(name, error);
  }

  async stop(ref: ActorRef<unknown> | string): Promise<void> {
    const cell = this.cells.get(typeof ref === 'string' ? ref : ref.name);
    if (cell) await cell.stop();
  }

  /** Stop every actor, waiting at most 5 s for each in-flight message. */
  async shutdown(): Promise<void> {
    for (const cell of [...this.cells.values()]) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([cell.whenIdle(), new Promise((r) => (timer = setTimeout(r, 5000)))]);
      clearTimeout(timer);
      await cell.stop();
    }
    await this.transport.close();
  }
}
