/**
 * The command line and the life cycle of a bench's main module: string flags checked against the
 * usage line, integer flags, and stopping what was started on Ctrl-C, SIGTERM, failure or exit.
 */
import { parseArgs } from 'node:util';
import { Resources } from './checkpoints-common.js';
import { withTimeout } from './util.js';

/** The flags of a bench's command line, every one `--name value`. */
export interface BenchFlags<N extends string> {
  readonly values: Partial<Record<N, string>>;
  /** Prints `bench: <message>` and the usage line; exits with 2. */
  fail(message: string): never;
  /** Flag `name` as an integer >= `min` (`_` may separate digits), or `fallback` when not given. */
  positive(name: N, fallback: number, min?: number): number;
}

/** Parses `process.argv` for the string flags `names`; anything else fails with the usage line. */
export function benchFlags<const N extends string>(usage: string, names: readonly N[]): BenchFlags<N> {
  const fail = (message: string): never => {
    console.error(`bench: ${message}\n${usage}`);
    process.exit(2);
  };
  const values = (() => {
    try {
      return parseArgs({ options: Object.fromEntries(names.map((n) => [n, { type: 'string' } as const])) }).values as Partial<Record<N, string>>;
    } catch (e) {
      return fail((e as Error).message);
    }
  })();
  return {
    values,
    fail,
    positive(name, fallback, min = 1) {
      const raw = values[name];
      if (raw === undefined || raw === '') return fallback;
      const n = Number(raw.replaceAll('_', ''));
      if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}, got '${raw}'`);
      return n;
    },
  };
}

/**
 * What a bench started ({@link resources}) and whether it was interrupted. On SIGINT or SIGTERM
 * everything is released (bounded by `signalShutdownMs`) and the process exits with 130; on exit
 * whatever is left is killed.
 */
export class BenchMain {
  readonly resources = new Resources();
  /** Set once SIGINT or SIGTERM arrived: the bench stops and reports nothing more. */
  interrupted = false;

  constructor(signalShutdownMs: number) {
    process.on('exit', () => this.resources.killAll());
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        this.interrupted = true;
        console.error(`bench: ${signal}, stopping what was started`);
        void withTimeout(this.resources.releaseAll(30_000), signalShutdownMs, 'shutdown')
          .catch(() => this.resources.killAll())
          .finally(() => process.exit(130));
      });
    }
  }

  /**
   * Runs the bench: a throw is printed (unless interrupted) and, like a result of false, sets exit
   * code 1. Whatever is still running is released at the end (bounded).
   */
  async run(main: () => Promise<boolean>): Promise<void> {
    try {
      if (!(await main())) process.exitCode = 1;
    } catch (e) {
      if (!this.interrupted) console.error(`bench: failed: ${(e as Error).stack ?? String(e)}`);
      process.exitCode = 1;
    } finally {
      await withTimeout(this.resources.releaseAll(30_000), 90_000, 'shutdown').catch(() => this.resources.killAll());
    }
  }
}
