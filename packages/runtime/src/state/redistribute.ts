import type { StateDecls } from '@weir/sdk';
import type { StateRow } from './heap-keyed-state.js';

/**
 * How a non-keyed actor's state (one row per subtask) is spread when the job restores at another
 * parallelism (`redistribution` of `defineActor`). Keyed state does not use this: it moves by key
 * groups.
 *
 * - `split` (default): list elements of all old subtasks, concatenated in old-subtask order, are
 *   dealt round-robin (element i to new subtask i mod p'); map entries, merged in old-subtask order
 *   (a later old subtask wins on an equal key, the key keeps its first place), are dealt the same
 *   way; new subtask k keeps old subtask k's value (none when k ≥ the old parallelism).
 * - `union`: every new subtask gets all list elements concatenated, all map entries merged (a
 *   later old subtask wins on an equal key), and old subtask 0's value.
 */
export type Redistribution = 'split' | 'union';

type Kind = 'value' | 'list' | 'map';

/** Declared kind; a name no longer declared keeps the kind its value shows. */
function kindOf(name: string, decls: StateDecls, rows: readonly (StateRow | undefined)[]): Kind {
  const declared = decls[name]?.kind;
  if (declared) return declared;
  for (const r of rows) {
    const v = r?.[name];
    if (v === undefined) continue;
    return Array.isArray(v) ? 'list' : v instanceof Map ? 'map' : 'value';
  }
  return 'value';
}

/**
 * The state row of new subtask `subtask` of `parallelism`, from the rows of every old subtask (by
 * old index; undefined where one had none). Empty lists and maps are left out, as the accessors
 * do. Pure: the old rows are not changed (values are shared, not copied).
 */
export function redistributeRow(
  rows: readonly (StateRow | undefined)[],
  decls: StateDecls,
  strategy: Redistribution,
  subtask: number,
  parallelism: number,
): StateRow {
  const names = new Set<string>(Object.keys(decls));
  for (const r of rows) if (r) for (const n of Object.keys(r)) names.add(n);
  const dealt = <T>(all: readonly T[]): T[] => (strategy === 'union' ? [...all] : all.filter((_, i) => i % parallelism === subtask));
  const out: StateRow = {};
  for (const name of names) {
    const present = rows.map((r) => (r && name in r ? r[name] : undefined));
    if (present.every((v) => v === undefined)) continue;
    switch (kindOf(name, decls, rows)) {
      case 'list': {
        const mine = dealt(present.flatMap((v) => (Array.isArray(v) ? v : [])));
        if (mine.length > 0) out[name] = mine;
        break;
      }
      case 'map': {
        const merged = new Map<unknown, unknown>();
        for (const v of present) if (v instanceof Map) for (const [k, x] of v) merged.set(k, x);
        const mine = dealt([...merged]);
        if (mine.length > 0) out[name] = new Map(mine);
        break;
      }
      case 'value': {
        const from = strategy === 'union' ? 0 : subtask;
        const row = rows[from];
        if (from < rows.length && row && name in row) out[name] = row[name];
        break;
      }
    }
  }
  return out;
}
