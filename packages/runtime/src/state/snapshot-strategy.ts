import { WeirError } from '@weir/sdk';
import type { BlobWrite, ChainedBlobWrite, OperatorSubtaskSnapshot, SavepointBlobWrite } from '../snapshots/types.js';
import { keyGroupBlob, operatorStateBlob } from '../snapshots/names.js';
import { chainedWriteParts, MAX_SAVEPOINT_PARTS, savepointKeyGroupBlob, savepointOperatorStateBlob } from '../snapshots/savepoint-names.js';
import type { HeapKeyedState, StateRow } from './heap-keyed-state.js';
import { applyKeyedBlob, joinPackedRows, packKeyedBlob, packRows, readKeyedBlob, STATE_BLOB_FORMAT as FORMAT, statePackr as packr, type PackedRows } from './keyed-blob.js';

/**
 * What a barrier asks of a capture (Flink's CheckpointOptions): `incremental` deltas, `full` bases
 * (a stop's savepoint, which completes as a checkpoint), or a detached `savepoint` (full bases under
 * canonical names, written into the savepoint, not part of the job's checkpoints).
 */
export type SnapshotKind = 'incremental' | 'full' | 'savepoint';

/** What the synchronous part of a snapshot hands to the asynchronous write. */
export interface CapturedState {
  readonly blobs: BlobWrite[];
  readonly snapshot: OperatorSubtaskSnapshot;
  /** Bytes of the whole state the snapshot describes (bases + deltas of every chain). */
  readonly stateBytes: number;
  readonly writtenBytes: number;
  /** Of `writtenBytes`, bytes packed ahead of the capture (runs it joined). */
  readonly packedAheadBytes?: number;
  /** The checkpoint is acknowledged only once this resolves (a sink's staged data made durable). */
  readonly durable?: Promise<void>;
}

interface Chain {
  names: string[];
  baseBytes: number;
  deltaBytes: number;
}

/** Packing ahead starts once this many keys of the subtask are marked dirty. */
export const PREPACK_MIN_ROWS = 2048;
/** Runs packed ahead per key group between two captures, at most: a key changed again is packed again. */
export const MAX_PREPACKED_RUNS = 16;
/** One packing ahead stops after this long (ms); the next goes on. */
const PREPACK_BUDGET_MS = 4;

/**
 * Incremental snapshots of one operator subtask's heap state. Keyed state: per key group, a full
 * base followed by deltas (changed rows and tombstones); a new base when the chain grows past
 * `maxDeltaChain` deltas or its deltas outweigh twice the base. Non-keyed state: the whole row.
 */
export class SnapshotStrategy {
  private readonly chains = new Map<number, Chain>();
  /** Rows packed ahead of the next capture, per key group, oldest first (prepack). */
  private readonly packedAhead = new Map<number, PackedRows[]>();
  /** The keys in those runs, per key group. */
  private readonly packedKeys = new Map<number, Set<string>>();
  /** Key groups whose changed keys were mostly packed ahead already: left to the capture. */
  private readonly hotGroups = new Set<number>();

  constructor(
    private readonly state: HeapKeyedState,
    private readonly uid: string,
    private readonly subtask: number,
    private readonly maxDeltaChain: number,
  ) {}

  /**
   * Synchronous part: serialize what changed since the last capture and clear the dirty marks.
   * `full` (the savepoint of a stop, which completes as a checkpoint) writes a new base for every
   * key group with state, so the snapshot is one blob per key group; the chains start over from
   * those bases. `savepoint` (a detached savepoint) writes the same full bases under the
   * savepoint's canonical names and leaves chains and dirty marks alone: the next checkpoint is
   * still a delta of the last one. With `emit`, each blob is handed over as soon as it is made
   * (the caller writes it while the next is packed) instead of being returned in `blobs`.
   */
  capture(attempt: number, checkpointId: number, kind: SnapshotKind = 'incremental', emit?: (b: SavepointBlobWrite) => void): CapturedState {
    const blobs: BlobWrite[] = [];
    const put = emit ?? ((b: BlobWrite) => void blobs.push(b));
    const detached = kind === 'savepoint';
    if (!this.state.keyed) {
      const name = detached ? savepointOperatorStateBlob(this.uid, this.subtask) : operatorStateBlob(this.uid, this.subtask, attempt, checkpointId);
      const bytes = packr.pack({ v: FORMAT, row: this.state.groups.get(-1)?.get('') ?? {} });
      put({ name, bytes });
      if (!detached) this.state.clearDirty();
      return { blobs, snapshot: { keyGroups: {}, operatorState: name }, stateBytes: bytes.length, writtenBytes: bytes.length };
    }
    if (detached) {
      this.state.decodeAll(); // every key group with rows is in the savepoint: it must know which have rows
      return this.captureDetached(emit, blobs);
    }
    let written = 0;
    let packedAhead = 0;
    const full = kind === 'full';
    if (full) this.state.decodeAll(); // a new base of every key group
    const changed: Iterable<number> = full ? new Set([...this.chains.keys(), ...this.state.groups.keys()]) : new Set([...this.state.dirty.keys(), ...this.packedAhead.keys()]);
    for (const group of changed) {
      const ids = this.state.dirty.get(group);
      const ahead = this.packedAhead.get(group);
      if (!full && (ids === undefined || ids.size === 0) && ahead === undefined) continue;
      const rows = this.state.groups.get(group);
      const chain = this.chains.get(group);
      if (full || chain === undefined || chain.names.length > this.maxDeltaChain || chain.deltaBytes > 2 * chain.baseBytes) {
        const name = keyGroupBlob(this.uid, group, attempt, checkpointId, 'base');
        const bytes = packKeyedBlob(rows, true);
        put({ name, bytes });
        this.chains.set(group, { names: [name], baseBytes: bytes.length, deltaBytes: 0 });
        written += bytes.length;
      } else {
        const name = keyGroupBlob(this.uid, group, attempt, checkpointId, 'delta');
        const bytes = packDelta(ids, ahead);
        packedAhead += runBytes(ahead);
        put({ name, bytes });
        chain.names.push(name);
        chain.deltaBytes += bytes.length;
        written += bytes.length;
      }
    }
    this.state.clearDirty();
    this.forgetPackedAhead();
    const keyGroups: Record<number, string[]> = {};
    let stateBytes = 0;
    for (const [g, c] of this.chains) {
      keyGroups[g] = [...c.names];
      stateBytes += c.baseBytes + c.deltaBytes;
    }
    return { blobs, snapshot: { keyGroups }, stateBytes, writtenBytes: written, packedAheadBytes: packedAhead };
  }

  /**
   * A detached savepoint: the whole state of each key group with state, under canonical names;
   * chains and dirty marks are left alone. A key group whose chain is stored (every capture since
   * the restore or the last base) is handed over as that chain plus a delta of its dirty rows, whose
   * blobs become the savepoint's parts (ChainedBlobWrite): only what changed since the
   * last capture is packed. A key group without a chain (never captured), or whose parts would pass
   * MAX_SAVEPOINT_PARTS, is packed as one full base. Emitting chained writes needs `emit` (the
   * caller knows the job's store); without it every key group is packed.
   */
  private captureDetached(emit: ((b: SavepointBlobWrite) => void) | undefined, blobs: BlobWrite[]): CapturedState {
    const put = emit ?? ((b: BlobWrite) => void blobs.push(b));
    const keyGroups: Record<number, string[]> = {};
    let written = 0;
    let packedAhead = 0;
    let stateBytes = 0;
    for (const [group, rows] of this.state.groups) {
      if (rows.size === 0) continue;
      const name = savepointKeyGroupBlob(this.uid, group);
      const chain = emit ? this.chains.get(group) : undefined;
      const ids = this.state.dirty.get(group);
      const ahead = this.packedAhead.get(group);
      const changed = (ids !== undefined && ids.size > 0) || ahead !== undefined;
      if (chain && chain.names.length + (changed ? 1 : 0) <= MAX_SAVEPOINT_PARTS) {
        const write: ChainedBlobWrite = changed ? { name, chain: [...chain.names], tail: packDelta(ids, ahead) } : { name, chain: [...chain.names] };
        emit!(write);
        if (changed) packedAhead += runBytes(ahead);
        keyGroups[group] = chainedWriteParts(write);
        written += write.tail?.byteLength ?? 0;
        stateBytes += chain.baseBytes + chain.deltaBytes + (write.tail?.byteLength ?? 0);
      } else {
        const bytes = packKeyedBlob(rows, true);
        put({ name, bytes });
        keyGroups[group] = [name];
        written += bytes.length;
        stateBytes += bytes.length;
      }
    }
    return { blobs, snapshot: { keyGroups }, stateBytes, writtenBytes: written, packedAheadBytes: packedAhead };
  }

  /**
   * Pack the rows of the keys changed since the last capture now, ahead of the next capture, and
   * clear their dirty marks: the capture, which blocks the task, then packs only the keys changed
   * since and joins the runs byte for byte. Called while the task runs (8 times per checkpoint
   * interval, at most every 100 ms); does nothing below PREPACK_MIN_ROWS changed keys of this
   * operator subtask (in key groups it may still pack), stops once a key group took it past
   * `budgetMs`, and packs a key group at most MAX_PREPACKED_RUNS times between captures. A key
   * changed again is packed again (its later row wins): a key group whose marked keys are mostly
   * in its runs already (hot keys) is left to the capture, so each run brings at least as many new
   * keys as repeated ones, and a delta holds at most three times the keys changed (its runs at
   * most twice, then the keys marked since). Returns the keys packed.
   */
  prepack(budgetMs = PREPACK_BUDGET_MS): number {
    if (!this.state.keyed) return 0;
    let marked = 0;
    for (const [group, marks] of this.state.dirty) if (this.mayPackAhead(group)) marked += marks.size;
    if (marked < PREPACK_MIN_ROWS) return 0;
    const started = performance.now();
    const cleared: number[] = [];
    let packed = 0;
    for (const [group, marks] of this.state.dirty) {
      if (marks.size === 0 || !this.mayPackAhead(group)) continue;
      const seen = this.packedKeys.get(group);
      if (seen) {
        let again = 0;
        for (const id of marks.keys()) if (seen.has(id)) again++;
        if (2 * again > marks.size) {
          this.hotGroups.add(group);
          continue;
        }
      }
      const run = packRows(marks);
      const runs = this.packedAhead.get(group);
      if (runs) runs.push(run);
      else this.packedAhead.set(group, [run]);
      const keys = seen ?? new Set<string>();
      for (const id of marks.keys()) keys.add(id);
      if (!seen) this.packedKeys.set(group, keys);
      cleared.push(group);
      packed += run.rows;
      if (performance.now() - started >= budgetMs) break;
    }
    this.state.clearDirtyGroups(cleared);
    return packed;
  }

  private mayPackAhead(group: number): boolean {
    return !this.hotGroups.has(group) && (this.packedAhead.get(group)?.length ?? 0) < MAX_PREPACKED_RUNS;
  }

  /** After a capture that wrote the runs (or a restore): the next ones start over. */
  private forgetPackedAhead(): void {
    this.packedAhead.clear();
    this.packedKeys.clear();
    this.hotGroups.clear();
  }

  /** Blob names a restore of `snapshot` reads (only the key groups in `owns`). */
  static blobsToRead(snapshot: OperatorSubtaskSnapshot, owns: (group: number) => boolean): string[] {
    const names: string[] = [];
    for (const [g, chain] of Object.entries(snapshot.keyGroups)) if (owns(Number(g))) names.push(...chain);
    if (snapshot.operatorState) names.push(snapshot.operatorState);
    return names;
  }

  /**
   * Rebuild the working state from base + deltas per key group; continue the same chains. `lazy`:
   * each key group is decoded only when first needed (HeapKeyedState.putGroupLazy); its blobs are
   * checked then, so a corrupt one fails the task once it runs instead of its restore.
   */
  restore(snapshot: OperatorSubtaskSnapshot, owns: (group: number) => boolean, blobs: ReadonlyMap<string, Uint8Array>, lazy = false): void {
    this.forgetPackedAhead();
    if (!this.state.keyed) {
      if (!snapshot.operatorState) return;
      const { row } = decode(snapshot.operatorState, blobs) as { row: StateRow };
      const current = this.state.groups.get(-1)!.get('')!;
      Object.assign(current, row);
      return;
    }
    for (const [g, names] of Object.entries(snapshot.keyGroups)) {
      const group = Number(g);
      if (!owns(group)) continue;
      const chain: Chain = { names: [...names], baseBytes: 0, deltaBytes: 0 };
      const parts = names.map((name, i) => {
        const bytes = blobs.get(name);
        if (!bytes) throw new WeirError('WEIR_SNAPSHOT_MISSING', `state blob '${name}' was not read`);
        if (i === 0) chain.baseBytes = bytes.length;
        else chain.deltaBytes += bytes.length;
        return bytes;
      });
      const decode = (): Map<string, StateRow> => {
        const rows = new Map<string, unknown>();
        parts.forEach((bytes, i) => applyKeyedBlob(readKeyedBlob(bytes, `key group ${group} of '${this.uid}' (${names[i]})`, i === 0), rows));
        return rows as Map<string, StateRow>;
      };
      if (lazy) this.state.putGroupLazy(group, decode);
      else this.state.putGroup(group, decode());
      this.chains.set(group, chain);
    }
  }
}

/** Bytes of the runs packed ahead for a key group. */
function runBytes(runs: readonly PackedRows[] | undefined): number {
  let n = 0;
  if (runs) for (const r of runs) n += r.bytes.byteLength;
  return n;
}

/**
 * A delta of the changed keys: the runs packed ahead, then the keys marked since, from their dirty
 * entries (which hold the rows; removed keys as `null`).
 */
function packDelta(changed: ReadonlyMap<string, StateRow | undefined> | undefined, ahead: readonly PackedRows[] | undefined): Uint8Array {
  if (ahead === undefined) return packKeyedBlob(changed, false);
  return joinPackedRows(changed !== undefined && changed.size > 0 ? [...ahead, packRows(changed)] : ahead, false);
}

function decode(name: string, blobs: ReadonlyMap<string, Uint8Array>): unknown {
  const bytes = blobs.get(name);
  if (!bytes) throw new WeirError('WEIR_SNAPSHOT_MISSING', `state blob '${name}' was not read`);
  const v = packr.unpack(bytes) as { v?: number };
  if (v.v !== FORMAT) throw new WeirError('WEIR_SNAPSHOT_CORRUPT', `state blob '${name}' has format ${String(v.v)}; this runtime reads format ${FORMAT}`);
  return v;
}

/** Encode a small value (source position) as an operator-state blob. */
export function packValue(value: unknown): Uint8Array {
  return packr.pack({ v: FORMAT, value });
}

export function unpackValue(name: string, blobs: ReadonlyMap<string, Uint8Array>): unknown {
  return (decode(name, blobs) as { value: unknown }).value;
}
