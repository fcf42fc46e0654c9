import { defineActor, type ActorDefinition, type Key } from './actor.js';
import type { SinkSpec, SourceSpec } from './connectors/spec.js';
import { GraphValidationError } from './errors.js';
import { DEFAULT_MAX_PARALLELISM, type InputEdge, type OperatorKind, type OperatorNode, type OperatorOptions, type Partitioning } from './graph.js';
import { valueState } from './state.js';

/** A stream of records of type T. Each method adds an operator and returns the new stream. */
export interface DataStream<T> {
  map<U>(fn: (value: T) => U, options?: OperatorOptions): DataStream<U>;
  filter(fn: (value: T) => boolean, options?: OperatorOptions): DataStream<T>;
  flatMap<U>(fn: (value: T) => Iterable<U>, options?: OperatorOptions): DataStream<U>;
  /** Partition by key: every record with the same key goes to the same subtask, with its state. */
  keyBy<K extends Key>(key: (value: T) => K): KeyedStream<T, K>;
  /** A user-defined actor with per-subtask state. */
  actor<Out>(actor: ActorDefinition<T, Out, any>, options?: OperatorOptions): DataStream<Out>;
  /** Merge streams of the same type. */
  union(...others: DataStream<T>[]): DataStream<T>;
  /** Spread records round-robin over the next operator's subtasks. */
  rebalance(): DataStream<T>;
  /** Send every record to every subtask of the next operator. */
  broadcast(): DataStream<T>;
  /** Keep records on the same subtask index (needs equal parallelism). */
  forward(): DataStream<T>;
  sink(sink: SinkSpec<T>, options?: OperatorOptions): void;
}

/** A stream partitioned by key; keyed operators get per-key state and timers. */
export interface KeyedStream<T, K extends Key> {
  actor<Out>(actor: ActorDefinition<T, Out, any>, options?: OperatorOptions): DataStream<Out>;
  /** Running reduction per key: emits the reduced value after every record. */
  reduce(fn: (accumulator: T, value: T) => T, options?: OperatorOptions): DataStream<T>;
  /** Running sum per key: emits `{ key, sum }` after every record. */
  sum(select: (value: T) => number, options?: OperatorOptions): DataStream<{ key: K; sum: number }>;
}

interface Upstream {
  readonly node: number;
}

/** Collects nodes while the user's build function runs. */
export class GraphBuilder {
  readonly nodes: OperatorNode[] = [];
  constructor(readonly defaultParallelism: number) {}

  add(
    kind: OperatorKind,
    inputs: readonly InputEdge[],
    options: OperatorOptions | undefined,
    payload: Pick<OperatorNode, 'fn' | 'actor' | 'source' | 'sink'>,
    keyed = false,
  ): number {
    const id = this.nodes.length;
    const uid = options?.uid ?? `${kind}-${id}`;
    this.nodes.push({
      id,
      uid,
      name: options?.name ?? uid,
      kind,
      parallelism: options?.parallelism ?? this.defaultParallelism,
      maxParallelism: options?.maxParallelism ?? DEFAULT_MAX_PARALLELISM,
      chaining: options?.chaining ?? true,
      keyed,
      inputs,
      ...payload,
    });
    return id;
  }

  /** Resolve implicit edges: forward between equal parallelism, else rebalance (as Flink does). */
  finish(): OperatorNode[] {
    return this.nodes.map((n) => ({
      ...n,
      inputs: n.inputs.map((e) => {
        if (e.explicit || e.partitioning !== 'forward') return e;
        const same = this.nodes[e.from]!.parallelism === n.parallelism;
        return same ? e : { ...e, partitioning: 'rebalance' as Partitioning };
      }),
    }));
  }

  stream<T>(upstream: readonly Upstream[]): DataStream<T> {
    return new Stream<T>(this, upstream, 'forward', false);
  }
}

class Stream<T> implements DataStream<T> {
  constructor(
    private readonly b: GraphBuilder,
    private readonly upstream: readonly Upstream[],
    private readonly partitioning: Partitioning,
    private readonly explicit: boolean,
    private readonly key?: (value: T) => Key,
  ) {}

  private edges(): InputEdge[] {
    return this.upstream.map((u) => ({ from: u.node, partitioning: this.partitioning, explicit: this.explicit, ...(this.key ? { key: this.key } : {}) }));
  }

  private then<U>(kind: OperatorKind, options: OperatorOptions | undefined, payload: Pick<OperatorNode, 'fn' | 'actor'>, keyed = false): DataStream<U> {
    return this.b.stream<U>([{ node: this.b.add(kind, this.edges(), options, payload, keyed) }]);
  }

  map<U>(fn: (value: T) => U, options?: OperatorOptions): DataStream<U> {
    return this.then('map', options, { fn });
  }
  filter(fn: (value: T) => boolean, options?: OperatorOptions): DataStream<T> {
    return this.then('filter', options, { fn });
  }
  flatMap<U>(fn: (value: T) => Iterable<U>, options?: OperatorOptions): DataStream<U> {
    return this.then('flatMap', options, { fn });
  }
  keyBy<K extends Key>(key: (value: T) => K): KeyedStream<T, K> {
    if (typeof key !== 'function') throw new GraphValidationError('WEIR_GRAPH_INVALID_KEY', 'keyBy needs a function that returns the key of a record');
    return new Keyed<T, K>(new Stream<T>(this.b, this.upstream, 'hash', true, key));
  }
  actor<Out>(actor: ActorDefinition<T, Out, any>, options?: OperatorOptions): DataStream<Out> {
    return this.actorNode(actor, options, this.partitioning === 'hash');
  }
  actorNode<Out>(actor: ActorDefinition<T, Out, any>, options: OperatorOptions | undefined, keyed: boolean): DataStream<Out> {
    return this.then('actor', options, { actor }, keyed);
  }
  union(...others: DataStream<T>[]): DataStream<T> {
    const all: Upstream[] = [...this.upstream];
    for (const o of others) {
      if (!(o instanceof Stream) || o.b !== this.b) throw new GraphValidationError('WEIR_GRAPH_INVALID_EDGE', 'union() takes streams of the same job');
      all.push(...o.upstream);
    }
    return new Stream<T>(this.b, all, this.partitioning, this.explicit, this.key);
  }
  rebalance(): DataStream<T> {
    return new Stream<T>(this.b, this.upstream, 'rebalance', true);
  }
  broadcast(): DataStream<T> {
    return new Stream<T>(this.b, this.upstream, 'broadcast', true);
  }
  forward(): DataStream<T> {
    return new Stream<T>(this.b, this.upstream, 'forward', true);
  }
  sink(sink: SinkSpec<T>, options?: OperatorOptions): void {
    if (sink?.role !== 'sink') throw new GraphValidationError('WEIR_GRAPH_INVALID_CONNECTOR', 'sink() takes a sink connector, e.g. print() or fileSink({...}) from @weir/sdk/connectors');
    this.b.add('sink', this.edges(), options, { sink });
  }
}

class Keyed<T, K extends Key> implements KeyedStream<T, K> {
  constructor(private readonly s: Stream<T>) {}
  actor<Out>(actor: ActorDefinition<T, Out, any>, options?: OperatorOptions): DataStream<Out> {
    return this.s.actorNode(actor, options, true);
  }
  reduce(fn: (accumulator: T, value: T) => T, options?: OperatorOptions): DataStream<T> {
    const reducer = defineActor({
      state: { acc: valueState<{ v: T }>() },
      onMessage(value: T, { state }) {
        const prev = state.acc.get();
        const next = prev === undefined ? value : fn(prev.v, value);
        state.acc.set({ v: next });
        return next;
      },
    });
    return this.s.actorNode(reducer, options, true);
  }
  sum(select: (value: T) => number, options?: OperatorOptions): DataStream<{ key: K; sum: number }> {
    const summer = defineActor({
      state: { sum: valueState(0) },
      onMessage(value: T, { state, key }) {
        const sum = state.sum.get() + select(value);
        state.sum.set(sum);
        return { key: key as K, sum };
      },
    });
    return this.s.actorNode(summer, options, true);
  }
}

/** The entry point of a job's build function. */
export interface StreamEnvironment {
  /** The job's default parallelism (from `weir run --parallelism`). */
  readonly parallelism: number;
  source<T>(source: SourceSpec<T>, options?: OperatorOptions): DataStream<T>;
}

export function environment(b: GraphBuilder): StreamEnvironment {
  return {
    parallelism: b.defaultParallelism,
    source<T>(source: SourceSpec<T>, options?: OperatorOptions): DataStream<T> {
      if (source?.role !== 'source') throw new GraphValidationError('WEIR_GRAPH_INVALID_CONNECTOR', 'source() takes a source connector, e.g. generator() or fileSource({...}) from @weir/sdk/connectors');
      return b.stream<T>([{ node: b.add('source', [], options, { source }) }]);
    },
  };
}
