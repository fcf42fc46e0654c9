/**
 * Restart strategies: whether a failed job attempt is restarted, and after what delay. Pure: the
 * caller passes the failure time, so the strategies are deterministic in tests.
 */
import type { RestartStrategyConfig } from '@weir/sdk';

/** The answer to one failure. */
export type RestartDecision = { readonly restart: true; readonly delayMs: number } | { readonly restart: false; readonly reason: string };

/** The restart state of one job, fed every failure of it in time order. */
export interface RestartStrategy {
  /** Record a failure at `now` (ms) and decide whether to restart. */
  onFailure(now: number): RestartDecision;
  /** One line for logs and the REST API, e.g. `fixed-delay (3 attempts, 1000 ms delay)`. */
  describe(): string;
}

const count = (n: number) => (n === Infinity ? 'unlimited' : String(n));

/** Build the strategy a job's config asks for; each call starts with fresh state. */
export function createRestartStrategy(cfg: RestartStrategyConfig): RestartStrategy {
  switch (cfg.type) {
    case 'none':
      return {
        onFailure: () => ({ restart: false, reason: 'restart strategy none: the job is never restarted' }),
        describe: () => 'none',
      };
    case 'fixed-delay': {
      let restarts = 0;
      return {
        onFailure() {
          if (restarts >= cfg.attempts) return { restart: false, reason: `fixed-delay restart strategy exhausted: ${count(cfg.attempts)} restarts allowed` };
          restarts++;
          return { restart: true, delayMs: cfg.delayMs };
        },
        describe: () => `fixed-delay (${count(cfg.attempts)} attempts, ${cfg.delayMs} ms delay)`,
      };
    }
    case 'exponential-delay': {
      let restarts = 0;
      let nextDelay = Math.min(cfg.initialDelayMs, cfg.maxDelayMs);
      let lastFailure: number | undefined;
      return {
        onFailure(now) {
          // A long quiet run means the earlier failures were unrelated: back off from the start again.
          if (lastFailure !== undefined && now - lastFailure >= cfg.resetAfterMs) nextDelay = Math.min(cfg.initialDelayMs, cfg.maxDelayMs);
          lastFailure = now;
          if (restarts >= cfg.attempts) return { restart: false, reason: `exponential-delay restart strategy exhausted: ${count(cfg.attempts)} restarts allowed` };
          restarts++;
          const delayMs = nextDelay;
          nextDelay = Math.min(Math.round(nextDelay * cfg.multiplier), cfg.maxDelayMs);
          return { restart: true, delayMs };
        },
        describe: () =>
          `exponential-delay (${cfg.initialDelayMs} ms to ${cfg.maxDelayMs} ms, x${cfg.multiplier}, reset after ${cfg.resetAfterMs} ms, ${count(cfg.attempts)} attempts)`,
      };
    }
    case 'failure-rate': {
      // Failure times inside the sliding window, oldest first.
      const recent: number[] = [];
      return {
        onFailure(now) {
          recent.push(now);
          while (recent.length > 0 && now - recent[0]! >= cfg.intervalMs) recent.shift();
          if (recent.length > cfg.maxFailures) {
            return { restart: false, reason: `failure-rate restart strategy exhausted: more than ${cfg.maxFailures} failures within ${cfg.intervalMs} ms` };
          }
          return { restart: true, delayMs: cfg.delayMs };
        },
        describe: () => `failure-rate (at most ${cfg.maxFailures} failures per ${cfg.intervalMs} ms, ${cfg.delayMs} ms delay)`,
      };
    }
  }
}
