/** What to do with an actor whose receive (or preStart) failed. */
export type Directive = 'resume' | 'restart' | 'stop' | 'escalate';

/** How an actor's failures are handled. */
export interface SupervisorStrategy {
  /** Decide what to do when receive throws/rejects. Default: restart. */
  decide(error: unknown): Directive;
  /**
   * At most this many restarts within `withinMs`; beyond that the actor is stopped (and, if it
   * has a parent, the failure escalates). Defaults: 10 within 60_000 ms.
   */
  maxRestarts?: number;
  withinMs?: number;
}

/** Restart budget options. */
export interface RestartLimits {
  maxRestarts?: number;
  withinMs?: number;
}

const fixed = (directive: Directive, limits: RestartLimits = {}): SupervisorStrategy => ({ decide: () => directive, ...limits });

/** Ready-made strategies. */
export const Supervision = {
  /** Fresh instance (state reset, preStart again), mailbox kept; the failing message is dropped. */
  restart: (opts?: RestartLimits): SupervisorStrategy => fixed('restart', opts),
  /** Stop the actor: postStop runs, queued asks are rejected with WEIR_ACTOR_STOPPED. */
  stop: (): SupervisorStrategy => fixed('stop'),
  /** Stop the actor and fail its parent (top level: ActorSystemOptions.onEscalate). */
  escalate: (): SupervisorStrategy => fixed('escalate'),
  /** Keep the instance and its state; go on with the next message. */
  resume: (): SupervisorStrategy => fixed('resume'),
  /** Choose per error. */
  decider: (fn: (error: unknown) => Directive, opts?: RestartLimits): SupervisorStrategy => ({ decide: fn, ...opts }),
};

/** Sliding-window restart budget; time is passed in so it stays pure and testable. */
export class RestartBudget {
  private times: number[] = [];
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /** Record a restart at `now`; false when the budget is spent (the restart must not happen). */
  take(now: number): boolean {
    this.times = this.times.filter((t) => now - t < this.windowMs);
    if (this.times.length >= this.max) return false;
    this.times.push(now);
    return true;
  }
}
