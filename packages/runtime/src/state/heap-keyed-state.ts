import { StateAccessError, type Key, type StateDecls } from '@weir/sdk';
import { hashKeyId, keyId, type KeyGroupRange } from '../keygroups.js';

/** One key's state values, by state name. */
export type StateRow = Record<string, unknown>;

/**
 * Slots of the recent-keys cache (a power of two). Fixed per state, whatever the number of keys:
 * about 70 kB, where a slot per key cost 80% more heap for a large state.
 */
const CACHE_SLOTS = 4096;

/** Name under which a key's registered timers are kept in its row: timers are state. */
export const TIMERS = '\u0000timers';

/**
 * Working state of one operator subtask, in memory, partitioned by key group so that snapshots
 * and rescaling move whole key groups. Non-keyed operators use a single row (group -1).
 *
 * Dirty tracking: every write or in-place change marks the key in its group's dirty map, with its
 * row (undefined once the key is removed); a checkpoint serializes only those rows (and tombstones
 * for removed keys), then clears the maps. Keeping the row there spares the capture a lookup per
 * key in the group's (large) map: about 10 ms per 100,000 changed keys.
 *
 * Recent keys: a direct-mapped cache, indexed by the key's hash (which the key group needs
 * anyway), remembers for a few thousand keys their row and whether they are already in their dirty
 * set. A key switch that hits it costs no Map lookup and no Set insert. The maps and sets stay the
 * truth: the cache is dropped whenever they change other than through this class's own writes.
 *
 * Undecoded groups: a restore may hand over a key group as a function that decodes it
 * (`putGroupLazy`). It is decoded when one of its keys is first used, by `decodeSome` (the task
 * calls it between batches once it runs) or all at once by `decodeAll` (full captures, timers): a
 * restored task runs as soon as its state is read, not once every row is rebuilt.
 */
export class HeapKeyedState {
  /** keyGroup -> keyId -> row */
  readonly groups = new Map<number, Map<string, StateRow>>();
  /** keyGroup -> keyId -> row (undefined: removed) of the keys changed since the last snapshot */
  readonly dirty = new Map<number, Map<string, StateRow | undefined>>();
  /** keyGroup -> its rows, not decoded yet (restored lazily); never also in `groups`. */
  private readonly undecoded = new Map<number, () => Map<string, StateRow>>();
  private currentRow: StateRow | undefined;
  private currentKeyId = '';
  private currentGroup = -1;
  /** The current key is already in its dirty set (saves a Set lookup per write). */
  private currentMarked = false;
  /** The current key's cache slot (-1: not cached, e.g. non-keyed). */
  private currentSlot = -1;
  private readonly cacheIds: (string | undefined)[] = new Array<string | undefined>(CACHE_SLOTS).fill(undefined);
  private readonly cacheRows: (StateRow | undefined)[] = new Array<StateRow | undefined>(CACHE_SLOTS).fill(undefined);
  /** 1: the cached key is in its dirty set since the last clearDirty. */
  private readonly cacheMarked = new Uint8Array(CACHE_SLOTS);
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
    const hash = hashKeyId(id);
    const slot = hash & (CACHE_SLOTS - 1);
    this.currentKeyId = id;
    this.currentGroup = hash % this.maxParallelism; // = keyGroupOf(id)
    this.currentSlot = slot;
    if (this.cacheIds[slot] === id) {
      this.currentRow = this.cacheRows[slot];
      this.currentMarked = this.cacheMarked[slot] === 1;
      return;
    }
    const row = (this.undecoded.size === 0 ? this.groups.get(this.currentGroup) : this.decoded(this.currentGroup))?.get(id);
    this.cacheIds[slot] = id;
    this.cacheRows[slot] = row;
    this.cacheMarked[slot] = 0; // unknown: the next write adds it to its dirty set (idempotent)
    this.currentRow = row;
    this.currentMarked = false;
  }

  /** Leave keyed context (onEnd of a keyed actor has no current key). */
  clearCurrentKey(): void {
    if (!this.keyed) return;
    this.currentKey = undefined;
    this.currentKeyId = '';
    this.currentRow = undefined;
    this.currentGroup = -2;
    this.currentSlot = -1;
  }

  read(name: string): unknown {
    this.assertKey(name);
    return this.currentRow?.[name];
  }

  write(name: string, value: unknown): void {
    this.assertKey(name);
    let row = this.currentRow;
    if (row === undefined) {
      let group = this.undecoded.size === 0 ? this.groups.get(this.currentGroup) : this.decoded(this.currentGroup);
      if (group === undefined) this.groups.set(this.currentGroup, (group = new Map()));
      row = {};
      group.set(this.currentKeyId, row);
      this.currentRow = row;
      if (this.currentSlot >= 0) this.cacheRows[this.currentSlot] = row;
      // Removed earlier since the last snapshot: its dirty entry still says so.
      if (this.currentMarked) this.dirty.get(this.currentGroup)?.set(this.currentKeyId, row);
    }
    row[name] = value;
    this.markDirty();
  }

  /** A value of the current key was changed in place (list push, map set). */
  markDirty(): void {
    if (this.currentMarked) return;
    let marks = this.dirty.get(this.currentGroup);
    if (marks === undefined) this.dirty.set(this.currentGroup, (marks = new Map()));
    marks.set(this.currentKeyId, this.currentRow);
    this.currentMarked = true;
    if (this.currentSlot >= 0) this.cacheMarked[this.currentSlot] = 1;
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
      if (this.currentSlot >= 0) this.cacheRows[this.currentSlot] = undefined;
      this.dirty.get(this.currentGroup)?.set(this.currentKeyId, undefined); // marked just above
    }
  }

  /** Forget dirty marks (after a snapshot captured them). */
  clearDirty(): void {
    this.dirty.clear();
    this.currentMarked = false;
    this.cacheMarked.fill(0);
  }

  /** Forget the dirty marks of some key groups (their rows were packed ahead of the next snapshot). */
  clearDirtyGroups(groups: readonly number[]): void {
    if (groups.length === 0) return;
    for (const g of groups) this.dirty.delete(g);
    this.currentMarked = false;
    this.cacheMarked.fill(0);
  }

  /** Replace a key group's rows (restore). */
  putGroup(group: number, rows: Map<string, StateRow>): void {
    this.undecoded.delete(group);
    if (rows.size === 0) this.groups.delete(group);
    else this.groups.set(group, rows);
    if (group === this.currentGroup) this.currentRow = rows.get(this.currentKeyId);
    // Dirty entries name rows: point them at the new ones.
    const marks = this.dirty.get(group);
    if (marks) for (const id of marks.keys()) marks.set(id, rows.get(id));
    this.dropCache();
  }

  /**
   * Replace a key group's rows with the ones `decode` returns once they are needed (restore):
   * only before the task processes anything (no dirty marks, no current key in the group).
   */
  putGroupLazy(group: number, decode: () => Map<string, StateRow>): void {
    if (this.dirty.has(group) || group === this.currentGroup) throw new Error(`key group ${group} is in use: it cannot be restored lazily`);
    this.groups.delete(group);
    this.undecoded.set(group, decode);
    this.dropCache();
  }

  /** Key groups restored but not decoded yet. */
  get undecodedGroups(): number {
    return this.undecoded.size;
  }

  /** Decode up to `max` undecoded key groups; returns how many are left. */
  decodeSome(max: number): number {
    for (const g of this.undecoded.keys()) {
      if (max-- <= 0) break;
      this.decoded(g);
    }
    return this.undecoded.size;
  }

  /** Decode every undecoded key group (before anything reads `groups` as a whole). */
  decodeAll(): void {
    this.decodeSome(Infinity);
  }

  /** The rows of `group`, decoded first if they were restored lazily. */
  private decoded(group: number): Map<string, StateRow> | undefined {
    const decode = this.undecoded.get(group);
    if (decode === undefined) return this.groups.get(group);
    // Removed first: a decode that throws (a corrupt blob) fails the task, it is not retried.
    this.undecoded.delete(group);
    const rows = decode();
    if (rows.size === 0) return undefined;
    this.groups.set(group, rows);
    return rows;
  }

  /** Drop key groups outside a range (after restoring from a snapshot of other parallelism). */
  retainGroups(range: KeyGroupRange): void {
    for (const g of [...this.groups.keys()]) if (g >= 0 && (g < range.start || g > range.end)) this.groups.delete(g);
    for (const g of [...this.undecoded.keys()]) if (g < range.start || g > range.end) this.undecoded.delete(g);
    this.dropCache();
  }

  /** Forget the recent keys (their rows were replaced); the current key keeps its row and mark. */
  private dropCache(): void {
    this.cacheIds.fill(undefined);
    this.cacheRows.fill(undefined);
    this.cacheMarked.fill(0);
    this.currentSlot = -1;
  }

  /** Number of keys with state (decodes every key group). */
  get size(): number {
    this.decodeAll();
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
