import { StateAccessError, type Key, type StateDecls } from '@weir/sdk';
import { keyGroupOf, keyId } from '../keygroups.js';

/** One key's state values, by state name. */
export type StateRow = Record<string, unknown>;

/**
 * Working state of one operator subtask, in memory, partitioned by key group so that snapshots
 * and rescaling move whole key groups. Non-keyed operators use a single row.
 */
export class HeapKeyedState {
  /** keyGroup -> keyId -> row */
  readonly groups = new Map<number, Map<string, StateRow>>();
  private currentRow: StateRow | undefined;
  private currentKeyId = '';
  private currentGroup = -1;
  currentKey: Key | undefined;

  constructor(
    readonly decls: StateDecls,
    readonly maxParallelism: number,
    readonly keyed: boolean,
  ) {
    if (!keyed) {
      // Subtask-scoped state: one row in a pseudo key group.
      this.currentRow = {};
      this.groups.set(-1, new Map([['', this.currentRow]]));
    }
  }

  setCurrentKey(key: Key): void {
    const id = keyId(key);
    this.currentKey = key;
    if (id === this.currentKeyId && this.currentRow !== undefined) return;
    this.currentKeyId = id;
    this.currentGroup = keyGroupOf(id, this.maxParallelism);
    this.currentRow = this.groups.get(this.currentGroup)?.get(id);
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
  }

  remove(name: string): void {
    this.assertKey(name);
    const row = this.currentRow;
    if (row === undefined || !(name in row)) return;
    delete row[name];
    if (this.keyed && Object.keys(row).length === 0) {
      this.groups.get(this.currentGroup)?.delete(this.currentKeyId);
      this.currentRow = undefined;
    }
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
