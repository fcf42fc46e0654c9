/**
 * Per-job operational configuration: checkpointing and restart strategy. Set in `defineJob`,
 * overridable at submission (`weir run --checkpoint-interval ...`). Validated by the coordinator.
 */

/** Checkpointing of one job. Every field has a default; see docs/checkpointing.md. */
export interface CheckpointConfig {
  /** Time between the end of one checkpoint trigger and the next (ms); 0 disables periodic checkpoints. Default 10000. */
  readonly intervalMs: number;
  /** A checkpoint not completed within this time is aborted (ms). Default 60000. */
  readonly timeoutMs: number;
  /** Least time between the completion of one checkpoint and the trigger of the next (ms). Default 0. */
  readonly minPauseMs: number;
  /** Checkpoints in progress at once. Default 1. */
  readonly maxConcurrent: number;
  /** Consecutive failed checkpoints tolerated before the job fails over. Default 0. */
  readonly tolerableFailures: number;
  /** Completed checkpoints kept (the newest ones). Default 1. */
  readonly retained: number;
  /** `exactly-once` aligns barriers; `at-least-once` does not block channels. Default exactly-once. */
  readonly mode: 'exactly-once' | 'at-least-once';
  /** Deltas after a key group's full base before a task writes a new base. Default 10. */
  readonly maxDeltaChain: number;
}

export type RestartStrategyConfig =
  | { readonly type: 'none' }
  | { readonly type: 'fixed-delay'; readonly attempts: number; readonly delayMs: number }
  | {
      readonly type: 'exponential-delay';
      readonly initialDelayMs: number;
      readonly maxDelayMs: number;
      readonly multiplier: number;
      /** A run this long without failure resets the delay to the initial one. */
      readonly resetAfterMs: number;
      /** Restarts allowed in all (Infinity: no limit). */
      readonly attempts: number;
    }
  | { readonly type: 'failure-rate'; readonly maxFailures: number; readonly intervalMs: number; readonly delayMs: number };

/** What a job may set; the rest comes from defaults. */
export interface JobConfig {
  readonly checkpoints?: Partial<CheckpointConfig>;
  readonly restartStrategy?: RestartStrategyConfig;
}

export const DEFAULT_CHECKPOINT_CONFIG: CheckpointConfig = {
  intervalMs: 10_000,
  timeoutMs: 60_000,
  minPauseMs: 0,
  maxConcurrent: 1,
  tolerableFailures: 0,
  retained: 1,
  mode: 'exactly-once',
  maxDeltaChain: 10,
};

export const DEFAULT_RESTART_STRATEGY: RestartStrategyConfig = {
  type: 'exponential-delay',
  initialDelayMs: 1000,
  maxDelayMs: 60_000,
  multiplier: 2,
  resetAfterMs: 3_600_000,
  attempts: Infinity,
};
