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
}

export interface BuiltJob {
  readonly graph: JobGraph;
  readonly description: JobGraphDescription;
}

/** Run a job's build function and validate the resulting graph. */
export function buildJob(def: JobDefinition, options: BuildOptions = {}): BuiltJob {
  const parallelism = options.parallelism ?? 1;
  if (!Number.isInteger(parallelism) || parallelism < 1) {
    throw new WeirError('WEIR_GRAPH_INVALID_PARALLELISM', `job parallelism must be a positive integer, got ${String(parallelism)}`);
  }
  const builder = new GraphBuilder(parallelism);
  def.build(environment(builder), jobArgs(options.args ?? {}));
  const graph: JobGraph = { name: def.name, version: def.version, nodes: builder.finish(), ...(def.config && Object.keys(def.config).length > 0 ? { config: def.config } : {}) };
  const description = describeGraph(graph);
  validateGraph(description);
  return { graph, description };
}
