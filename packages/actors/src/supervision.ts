/** What to do with an actor whose receive threw. */
export type Directive = 'resume' | 'restart' | 'stop' | 'escalate';

export interface SupervisorStrategy {
  /** Decide per error. */
  decide(error: unknown): Directive;
  /** At most this many restarts within `withinMs`, then stop (and escalate to a parent). Default 10. */
  maxRestarts?: number;
  withinMs?: number;
}

type Opts = { maxRestarts?: number; withinMs?: number };
const fixed = (d: Directive, opts: Opts = {}): SupervisorStrategy => ({ decide: () => d, ...opts });

export const Supervision = {
  restart: (opts?: Opts): SupervisorStrategy => fixed('restart', opts),
  stop: (): SupervisorStrategy => fixed('stop'),
  escalate: (): SupervisorStrategy => fixed('escalate'),
  resume: (): SupervisorStrategy => fixed('resume'),
  decider: (fn: (e: unknown) => Directive, opts?: Opts): SupervisorStrategy => ({ decide: fn, ...opts }),
};

/** Sliding-window restart budget (pure; time passed in). */
export class RestartBudget {
  private times: number[] = [];
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}
  /** Record a restart at `now`; false when over budget. */
  take(now: number): boolean {
    this.times = this.times.filter((t) => now - t < this.windowMs);
    if (this.times.length >= this.max) return false;
    this.times.push(now);
    return true;
  }
}
