import type { ActorDefinition, Key } from './actor.js';
import type { JobConfig } from './config.js';
import type { SinkSpec, SourceSpec } from './connectors/spec.js';

/** How records move from one operator's subtasks to the next one's. */
export type Partitioning = 'forward' | 'rebalance' | 'hash' | 'broadcast';
export type OperatorKind = 'source' | 'map' | 'filter' | 'flatMap' | 'actor' | 'sink';

/** Options every operator takes. */
export interface OperatorOptions {
  /** Stable identity of the operator; state is matched to operators by uid. Default: `<kind>-<n>`. */
  readonly uid?: string;
  /** Display name. Default: the uid. */
  readonly name?: string;
  /** Number of parallel subtasks. Default: the job's parallelism. */
  readonly parallelism?: number;
  /** Number of key groups, the upper bound for rescaling keyed state. Default 128. */
  readonly maxParallelism?: number;
  /** Set false to keep this operator out of a chain with its predecessor. Default true. */
  readonly chaining?: boolean;
}

export interface InputEdge {
  readonly from: number;
  readonly partitioning: Partitioning;
  /** True when the user asked for this partitioning (forward() must then keep parallelism). */
  readonly explicit: boolean;
  readonly key?: (value: any) => Key;
}

/** A node of the built graph, with the user's functions. */
export interface OperatorNode {
  readonly id: number;
  readonly uid: string;
  readonly name: string;
  readonly kind: OperatorKind;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly chaining: boolean;
  readonly keyed: boolean;
  readonly inputs: readonly InputEdge[];
  readonly fn?: (value: any) => any;
  readonly actor?: ActorDefinition<any, any, any>;
  readonly source?: SourceSpec<any>;
  readonly sink?: SinkSpec<any>;
}

export interface JobGraph {
  readonly name: string;
  readonly version: string;
  readonly nodes: readonly OperatorNode[];
  readonly config?: JobConfig;
}

/** The serializable form of a job graph: what the coordinator receives and validates. */
export interface JobGraphDescription {
  readonly apiVersion: 1;
  readonly name: string;
  readonly version: string;
  readonly nodes: readonly OperatorDescription[];
  /** Checkpointing and restart strategy set in `defineJob` (the coordinator validates them). */
  readonly config?: JobConfig;
}

export interface OperatorDescription {
  readonly id: number;
  readonly uid: string;
  readonly name: string;
  readonly kind: OperatorKind;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly chaining: boolean;
  readonly keyed: boolean;
  readonly inputs: readonly { readonly from: number; readonly partitioning: Partitioning }[];
  /** Connector type, for sources and sinks. */
  readonly connector?: string;
  /** Sources: whether the input ends. */
  readonly bounded?: boolean;
  /** Actors: declared state names and kinds. */
  readonly state?: Readonly<Record<string, string>>;
  /** Actors: whether an onTimer handler exists (needs a keyed stream). */
  readonly timers?: boolean;
}

export const DEFAULT_MAX_PARALLELISM = 128;
export const MAX_MAX_PARALLELISM = 32768;

/** The serializable description of a built graph. */
export function describeGraph(graph: JobGraph): JobGraphDescription {
  return {
    apiVersion: 1,
    name: graph.name,
    version: graph.version,
    nodes: graph.nodes.map((n) => {
      const d: Record<string, unknown> = {
        id: n.id,
        uid: n.uid,
        name: n.name,
        kind: n.kind,
        parallelism: n.parallelism,
        maxParallelism: n.maxParallelism,
        chaining: n.chaining,
        keyed: n.keyed,
        inputs: n.inputs.map((e) => ({ from: e.from, partitioning: e.partitioning })),
      };
      if (n.source) Object.assign(d, { connector: n.source.type, bounded: n.source.bounded });
      if (n.sink) d.connector = n.sink.type;
      if (n.actor) {
        d.state = Object.fromEntries(Object.entries(n.actor.state as Record<string, { kind: string }>).map(([k, v]) => [k, v.kind]));
        d.timers = typeof n.actor.onTimer === 'function';
      }
      return d as unknown as OperatorDescription;
    }),
    ...(graph.config ? { config: graph.config } : {}),
  };
}
