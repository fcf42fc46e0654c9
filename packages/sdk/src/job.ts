import { jobArgs, type JobArgs } from './args.js';
import type { CheckpointConfig, JobConfig, RestartStrategyConfig } from './config.js';
import { WeirError } from './errors.js';
import { describeGraph, type JobGraph, type JobGraphDescription } from './graph.js';
import { environment, GraphBuilder, type StreamEnvironment } from './stream.js';
import { validateGraph } from './validate.js';

export const JOB_BRAND: unique symbol = Symbol.for('weir.job') as never;

export interface JobInfo {
  /** Job name: letters, digits, '_', '.', '-'. */
  readonly name: string;
  /** Version of the job's code; shown in REST and kept with savepoints. Default '1'. */
  readonly version?: string;
  /** Checkpointing; defaults in docs/checkpointing.md (every 10 s, exactly-once). */
  readonly checkpoints?: Partial<CheckpointConfig>;
  /** What happens when a task fails. Default: exponential delay from 1 s to 60 s, no limit. */
  readonly restartStrategy?: RestartStrategyConfig;
}

/** A job: what a job module exports (`export default defineJob(...)`). */
export interface JobDefinition {
  readonly [JOB_BRAND]: true;
  readonly name: string;
  readonly version: string;
  readonly config: JobConfig;
  readonly build: (env: StreamEnvironment, args: JobArgs) => unknown;
}

/**
 * Define a job. The build function wires sources, operators and sinks; it runs on the client to
 * validate the graph and again in each worker, so it must be deterministic for the same args.
 */
export function defineJob(info: JobInfo, build: (env: StreamEnvironment, args: JobArgs) => unknown): JobDefinition {
  const config: JobConfig = { ...(info.checkpoints ? { checkpoints: info.checkpoints } : {}), ...(info.restartStrategy ? { restartStrategy: info.restartStrategy } : {}) };
  return { [JOB_BRAND]: true, name: info.name, version: info.version ?? '1', config, build };
}

export function isJobDefinition(x: unknown): x is JobDefinition {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[JOB_BRAND] === true;
}

export interface BuildOptions {
  readonly args?: Readonly<Record<string, string>>;
  /** Default parallelism of operators that set none. Default 1. */
  readonly parallelism?: number;
  /** Where the job comes from (e.g. `job file jobs/x.ts`), named when its build function throws. */
  readonly source?: string;
}

export interface BuiltJob {
  readonly graph: JobGraph;
  readonly description: JobGraphDescription;
}

const hasWeirCode = (e: unknown): boolean => typeof (e as { code?: unknown })?.code === 'string' && (e as { code: string }).code.startsWith('WEIR_');

/**
 * Run a job's build function and validate the resulting graph.
 * @throws WeirError `WEIR_JOB_BUILD_FAILED` when the build function throws an error of its own
 * (Weir's errors, such as `WEIR_JOB_ARG_INVALID`, pass unchanged), `WEIR_GRAPH_*` for an invalid graph.
 */
export function buildJob(def: JobDefinition, options: BuildOptions = {}): BuiltJob {
  const parallelism = options.parallelism ?? 1;
  if (!Number.isInteger(parallelism) || parallelism < 1) {
    throw new WeirError('WEIR_GRAPH_INVALID_PARALLELISM', `job parallelism must be a positive integer, got ${String(parallelism)}`);
  }
  const builder = new GraphBuilder(parallelism);
  try {
    def.build(environment(builder), jobArgs(options.args ?? {}));
  } catch (e) {
    // Weir's own errors keep their code (a bad --arg, keyBy without a function). The check is by
    // code, not class: a bundle carries its own copy of the SDK.
    if (hasWeirCode(e)) throw e;
    const cause = e instanceof Error ? e.message : String(e);
    throw new WeirError('WEIR_JOB_BUILD_FAILED', `the build function of job '${def.name}'${options.source ? ` (${options.source})` : ''} threw: ${cause}; fix the job's build function (it runs on the client and again on every worker)`, { cause: e });
  }
  const graph: JobGraph = { name: def.name, version: def.version, nodes: builder.finish(), ...(def.config && Object.keys(def.config).length > 0 ? { config: def.config } : {}) };
  const description = describeGraph(graph);
  validateGraph(description);
  return { graph, description };
}
