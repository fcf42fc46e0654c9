import { defaultGeneratedLine, seededRandom } from '@weir/sdk/connectors';
import { asSplitProgress, rescaledProgress, resumeShare, type SplitProgress } from './split-progress.js';
import { RescaledPositions, type ConnectorContext, type SourceReader } from './types.js';

interface Options {
  count?: number;
  seed: number;
  ratePerSecond?: number;
  make?: (index: number, random: () => number) => unknown;
}

/**
 * Subtask i of p makes the indexes i, i+p, i+2p, ...; the next index is its whole position (a
 * number). After a rescale it skips the indexes the old subtasks made, and its position is
 * `{next, prior}` (see split-progress.ts) until it has passed all of them.
 */
export async function generatorSource(o: Options, ctx: ConnectorContext, position?: unknown): Promise<SourceReader> {
  const make = o.make ?? defaultGeneratedLine;
  const step = ctx.parallelism;
  const rescaled = RescaledPositions.of(position);
  const restored: SplitProgress | undefined = rescaled ? rescaledProgress(0, rescaled.parallelism, rescaled.positions.map(asSplitProgress)) : asSplitProgress(position);
  const resumed = resumeShare(ctx.subtask, step, 0, restored);
  const share = resumed.share;
  let next = resumed.next;
  const started = Date.now();
  let produced = 0;
  const perSubtaskRate = o.ratePerSecond === undefined ? undefined : o.ratePerSecond / ctx.parallelism;
  return {
    async poll(max) {
      if (o.count !== undefined && next >= o.count) return null;
      let n = max;
      if (perSubtaskRate !== undefined) {
        const allowed = Math.floor(((Date.now() - started) / 1000) * perSubtaskRate) - produced;
        if (allowed <= 0) {
          await new Promise((r) => setTimeout(r, Math.min(50, Math.ceil(1000 / perSubtaskRate))));
          return [];
        }
        n = Math.min(n, allowed);
      }
      const out: unknown[] = [];
      while (out.length < n && (o.count === undefined || next < o.count)) {
        out.push(make(next, seededRandom(o.seed, next)));
        next = share.firstPending(next + step);
      }
      produced += out.length;
      return out;
    },
    position: () => share.progress(next),
    async close() {},
  };
}
