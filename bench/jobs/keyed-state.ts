/**
 * A keyed count with a large state, for bench:checkpoints (recovery): an unbounded generator makes
 * the keys `k${i % keys}`, so the first `keys` records create every key and later records update
 * them; a keyed sum counts them (uid `count`), the output is discarded. Checkpoints every second.
 *
 *   weir run bench/jobs/keyed-state.ts -p 2 --detach [--arg keys=1000000] [--arg rate=200000]
 *   (rate: records/s over all source subtasks; 0 = as fast as possible)
 */
import { defineJob } from '@weir/sdk';
import { discard, generator } from '@weir/sdk/connectors';

export default defineJob(
  { name: 'keyed-state', checkpoints: { intervalMs: 1000 }, restartStrategy: { type: 'fixed-delay', attempts: 5, delayMs: 0 } },
  (env, args) => {
    const keys = args.int('keys', 1_000_000);
    const rate = args.int('rate', 200_000);
    env
      .source(generator({ make: (i) => `k${i % keys}`, ...(rate > 0 ? { ratePerSecond: rate } : {}) }), { uid: 'keys' })
      .keyBy((k) => k)
      .sum(() => 1, { uid: 'count' })
      .sink(discard(), { uid: 'out' });
  },
);
