import type { ListState, MapState, StateDecls, ValueState } from '@weir/sdk';
import type { HeapKeyedState } from './heap-keyed-state.js';

/** Build the typed accessors an actor sees (`ctx.state.<name>`) over the backend. */
export function stateAccessors(backend: HeapKeyedState, decls: StateDecls): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, decl] of Object.entries(decls)) {
    if (decl.kind === 'value') out[name] = valueAccessor(backend, name, decl.initial);
    else if (decl.kind === 'list') out[name] = listAccessor(backend, name);
    else out[name] = mapAccessor(backend, name);
  }
  return out;
}

function valueAccessor<T>(b: HeapKeyedState, name: string, initial: T): ValueState<T> {
  return {
    get: () => {
      const v = b.read(name);
      return (v === undefined ? initial : v) as T;
    },
    set: (value) => b.write(name, value),
    clear: () => b.remove(name),
  };
}

function listAccessor<T>(b: HeapKeyedState, name: string): ListState<T> {
  const list = (): T[] => {
    let l = b.read(name) as T[] | undefined;
    if (l === undefined) b.write(name, (l = []));
    return l;
  };
  return {
    get: () => (b.read(name) as T[] | undefined) ?? [],
    add: (value) => {
      list().push(value);
      b.markDirty();
    },
    addAll: (values) => {
      list().push(...values);
      b.markDirty();
    },
    update: (values) => b.write(name, [...values]),
    clear: () => b.remove(name),
  };
}

function mapAccessor<K, V>(b: HeapKeyedState, name: string): MapState<K, V> {
  const peek = () => b.read(name) as Map<K, V> | undefined;
  const map = (): Map<K, V> => {
    let m = peek();
    if (m === undefined) b.write(name, (m = new Map()));
    return m;
  };
  const empty = new Map<K, V>();
  return {
    get: (k) => peek()?.get(k),
    set: (k, v) => {
      map().set(k, v);
      b.markDirty();
    },
    has: (k) => peek()?.has(k) ?? false,
    delete: (k) => {
      const m = peek();
      if (m === undefined) return;
      if (!m.delete(k)) return;
      if (m.size === 0) b.remove(name);
      else b.markDirty();
    },
    keys: () => (peek() ?? empty).keys(),
    values: () => (peek() ?? empty).values(),
    entries: () => (peek() ?? empty).entries(),
    get size() {
      return peek()?.size ?? 0;
    },
    clear: () => b.remove(name),
  };
}
