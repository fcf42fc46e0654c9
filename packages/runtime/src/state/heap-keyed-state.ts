import { StateAccessError, type Key, type StateDecls } from '@weir/sdk';
import { keyGroupOf, keyId, type KeyGroupRange } from '../keygroups.js';

/** One key's state values, by state name. */
export type StateRow = Record<string, unknown>;

/** Name under which a key's registered timers are kept in its row: timers are state. */
export const TIMERS = '\u0000timers';

/**
 * Working state of one operator subtask, in memory, partitioned by key group so that snapshots
 * and rescaling move whole key groups. Non-keyed operators use a single row (group -1).
 *
 * Dirty tracking: every write or in-place change marks the key in its group's dirty set; a
 * checkpoint serializes only those keys (and tombstones for removed ones), then clears the sets.
 */
export class HeapKeyedState {
  /** keyGroup -> keyId -> row */
  readonly groups = new Map<number, Map<string, StateRow>>();
  /** keyGroup -> keyIds changed or removed since the last snapshot */
  readonly dirty = new Map<number, Set<string>>();
  private currentRow: StateRow | undefined;
  private currentKeyId = '';
  private currentGroup = -1;
  /** The current key is already in its dirty set (saves a Set lookup per write). */
  private currentMarked = false;
  currentKey: Key | undefined;

  constructor(
    readonly decls: StateDecls,
    readonly maxParallelism: number,
    readonly keyed: boolean,
  ) {
    if (!keyed) {
      this.currentRow = {};
      this.groups.set(-1, new Map([['', this.currentRow]]));
    }
  }

  setCurrentKey(key: Key): void {
    const id = keyId(key);
    this.currentKey = key;
    if (id === this.currentKeyId && this.currentGroup >= 0) return;
    this.currentKeyId = id;
    this.currentGroup = keyGroupOf(id, this.maxParallelism);
    this.currentRow = this.groups.get(this.currentGroup)?.get(id);
    this.currentMarked = false;
  }

  /** Leave keyed context (onEnd of a keyed actor has no current key). */
  clearCurrentKey(): void {
    if (!this.keyed) return;
    this.currentKey = undefined;
    this.currentKeyId = '';
    this.currentRow = undefined;
    this.currentGroup = -2;
  }

  read(name: string): unknown {
    this.assertKey(name);
    return this.currentRow?.[name];
  }

  write(name: string, value: unknown): void {
    this.assertKey(name);
    let row = this.currentRow;
    if (row === undefined) {
      let group = this.groups.get(this.currentGroup);
      if (group === undefined) this.groups.set(this.currentGroup, (group = new Map()));
      row = {};
      group.set(this.currentKeyId, row);
      this.currentRow = row;
    }
    row[name] = value;
    this.markDirty();
  }

  /** A value of the current key was changed in place (list push, map set). */
  markDirty(): void {
    if (this.currentMarked) return;
    let set = this.dirty.get(this.currentGroup);
    if (set === undefined) this.dirty.set(this.currentGroup, (set = new Set()));
    set.add(this.currentKeyId);
    this.currentMarked = true;
  }

  remove(name: string): void {
    this.assertKey(name);
    const row = this.currentRow;
    if (row === undefined || !(name in row)) return;
    delete row[name];
    this.markDirty();
    if (this.keyed && Object.keys(row).length === 0) {
      this.groups.get(this.currentGroup)?.delete(this.currentKeyId);
      this.currentRow = undefined;
    }
  }

  /** Forget dirty marks (after a snapshot captured them). */
  clearDirty(): void {
    this.dirty.clear();
    this.currentMarked = false;
  }

  /** Replace a key group's rows (restore). */
  putGroup(group: number, rows: Map<string, StateRow>): void {
    if (rows.size === 0) this.groups.delete(group);
    else this.groups.set(group, rows);
    if (group === this.currentGroup) this.currentRow = rows.get(this.currentKeyId);
  }

  /** Drop key groups outside a range (after restoring from a snapshot of other parallelism). */
  retainGroups(range: KeyGroupRange): void {
    for (const g of [...this.groups.keys()]) if (g >= 0 && (g < range.start || g > range.end)) this.groups.delete(g);
  }

  /** Number of keys with state. */
  get size(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.size;
    return n;
  }

  private assertKey(name: string): void {
    if (this.currentGroup === -2) {
      throw new StateAccessError('WEIR_STATE_NO_KEY', `state '${name}' is keyed and there is no current key here (onEnd runs once per subtask, outside any key)`);
    }
  }
}

/** The key a keyId stands for (keyId is reversible). */
export function keyFromId(id: string): Key {
  const c = id.charCodeAt(0);
  if (c === 1) return Number(id.slice(1));
  if (c === 2) return JSON.parse(id.slice(1)) as Key;
  return id;
}
