/**
 * @weir/sdk — everything a job author imports. Connectors live at `@weir/sdk/connectors`.
 */
export { defineJob, isJobDefinition, buildJob, JOB_BRAND } from './job.js';
export type { JobDefinition, JobInfo, BuildOptions, BuiltJob } from './job.js';
export { defineActor, isActorDefinition, ACTOR_BRAND } from './actor.js';
export type { ActorDefinition, ActorSpec, ActorContext, Emits, Key, Timers, SubtaskInfo, UserLogger } from './actor.js';
export { valueState, listState, mapState } from './state.js';
export type { ValueState, ListState, MapState, ValueStateDecl, ListStateDecl, MapStateDecl, StateDecl, StateDecls, StateOf } from './state.js';
export type { DataStream, KeyedStream, StreamEnvironment } from './stream.js';
export { jobArgs, parseArgPairs } from './args.js';
export type { JobArgs } from './args.js';
export { describeGraph, DEFAULT_MAX_PARALLELISM, MAX_MAX_PARALLELISM, MAX_OPERATORS } from './graph.js';
export type { JobGraph, JobGraphDescription, OperatorDescription, OperatorNode, OperatorOptions, InputEdge, Partitioning, OperatorKind } from './graph.js';
export { validateGraph } from './validate.js';
export { WeirError, GraphValidationError, JobArgumentError, StateAccessError } from './errors.js';
export { DEFAULT_CHECKPOINT_CONFIG, DEFAULT_RESTART_STRATEGY } from './config.js';
export type { CheckpointConfig, RestartStrategyConfig, JobConfig } from './config.js';
