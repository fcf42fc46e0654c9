import { defaultGeneratedLine, seededRandom } from '@weir/sdk/connectors';
import type { ConnectorContext, SourceReader } from './types.js';

interface Options {
  count?: number;
  seed: number;
  ratePerSecond?: number;
  make?: (index: number, random: () => number) => unknown;
}

/** Subtask i of p makes the indexes i, i+p, i+2p, ...; the next index is its whole position. */
export async function generatorSource(o: Options, ctx: ConnectorContext, position?: unknown): Promise<SourceReader> {
  const make = o.make ?? defaultGeneratedLine;
  const step = ctx.parallelism;
  let next = typeof position === 'number' ? position : ctx.subtask;
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
        next += step;
      }
      produced += out.length;
      return out;
    },
    position: () => next,
    async close() {},
  };
}
