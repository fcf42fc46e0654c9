/**
 * State declarations. An actor declares its state once; the runtime gives it typed accessors,
 * scoped to the current key (keyed streams) or to the subtask (non-keyed streams).
 */
export interface ValueStateDecl<T> { readonly kind: 'value'; readonly initial: T; readonly __t?: T }
export interface ListStateDecl<T> { readonly kind: 'list'; readonly __t?: T }
export interface MapStateDecl<K, V> { readonly kind: 'map'; readonly __k?: K; readonly __v?: V }
export type StateDecl = ValueStateDecl<any> | ListStateDecl<any> | MapStateDecl<any, any>;
export type StateDecls = Readonly<Record<string, StateDecl>>;

/** A single value per key. `get()` returns the initial value until something is set. */
export function valueState<T>(initial: T): ValueStateDecl<T>;
export function valueState<T>(): ValueStateDecl<T | undefined>;
export function valueState<T>(initial?: T): ValueStateDecl<T | undefined> {
  return { kind: 'value', initial };
}
/** An append-friendly list per key. */
export function listState<T>(): ListStateDecl<T> {
  return { kind: 'list' };
}
/** A map per key. Map keys must be strings or numbers. */
export function mapState<K extends string | number, V>(): MapStateDecl<K, V> {
  return { kind: 'map' };
}

/**
 * The current key's value. Treat what `get()` returns as read-only and `set()` a new value: a
 * checkpoint holds what was last set (a value changed in place is not tracked), and so does a
 * MapState's value or a ListState's element.
 */
export interface ValueState<T> { get(): T; set(value: T): void; clear(): void }
export interface ListState<T> { get(): readonly T[]; add(value: T): void; addAll(values: Iterable<T>): void; update(values: Iterable<T>): void; clear(): void }
export interface MapState<K, V> {
  get(key: K): V | undefined;
  set(key: K, value: V): void;
  has(key: K): boolean;
  delete(key: K): void;
  keys(): IterableIterator<K>;
  values(): IterableIterator<V>;
  entries(): IterableIterator<[K, V]>;
  readonly size: number;
  clear(): void;
}

/** The accessors an actor sees for its declarations. */
export type StateOf<S extends StateDecls> = {
  readonly [N in keyof S]: S[N] extends ValueStateDecl<infer T>
    ? ValueState<T>
    : S[N] extends ListStateDecl<infer T>
      ? ListState<T>
      : S[N] extends MapStateDecl<infer K, infer V>
        ? MapState<K, V>
        : never;
};
