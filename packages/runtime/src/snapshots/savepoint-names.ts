/**
 * Savepoint ids, the canonical blob names inside a savepoint, and how they map from a checkpoint's
 * blob names (create) and to a job's (materialize); both stores use these mappings. Canonical names
 * carry neither attempt nor checkpoint id: a savepoint holds one blob per key group and per subtask.
 */
import { randomBytes } from 'node:crypto';
import { WeirError } from '@weir/sdk';
import { keyGroupBlob, operatorStateBlob } from './names.js';
import { SAVEPOINT_FORMAT_VERSION, type SavepointJobInfo, type SavepointMetadata, type SavepointOperator, type SavepointStore } from './savepoint-types.js';
import type { ChainedBlobWrite, CompletedCheckpoint, OperatorSnapshot } from './types.js';

const SAVEPOINT_ID = /^sp-[0-9a-f]{16}$/;

/** Canonical name of one key group's full state in a savepoint. */
export function savepointKeyGroupBlob(uid: string, keyGroup: number): string {
  return `ks/${uid}/${keyGroup}`;
}

/**
 * Most parts one key group of a savepoint may have (a base, deltas, the tail): a capture whose chain
 * would make more packs a full base instead; an abandon deletes every name up to it.
 */
export const MAX_SAVEPOINT_PARTS = 32;

/** Name of part `part` of a key group whose first part is `name` (`ks/<uid>/<group>`, then `…/1`, `…/2`). */
export function savepointPartName(name: string, part: number): string {
  return part === 0 ? name : `${name}/${part}`;
}

/**
 * The savepoint parts a chained write makes, in order: one per chain blob, then the tail's.
 * RangeError if the chain is empty or the parts would pass MAX_SAVEPOINT_PARTS.
 */
export function chainedWriteParts(w: ChainedBlobWrite): string[] {
  const n = w.chain.length + (w.tail ? 1 : 0);
  if (w.chain.length === 0 || n > MAX_SAVEPOINT_PARTS) throw new RangeError(`savepoint blob '${w.name}' would have ${n} parts (1 to ${MAX_SAVEPOINT_PARTS})`);
  return Array.from({ length: n }, (_, i) => savepointPartName(w.name, i));
}

/** The names of a savepoint key group's parts, first to last (format 1: always one). */
export function savepointKeyGroupParts(op: Pick<SavepointOperator, 'keyGroups' | 'keyGroupParts'>, group: number): string[] {
  const name = op.keyGroups[group];
  if (name === undefined) return [];
  return Array.from({ length: op.keyGroupParts?.[group] ?? 1 }, (_, i) => savepointPartName(name, i));
}

/** Canonical name of one subtask's non-keyed state in a savepoint. */
export function savepointOperatorStateBlob(uid: string, subtask: number): string {
  return `os/${uid}/${subtask}`;
}

/** A fresh savepoint id: `sp-` + 16 random hex digits. */
export function newSavepointId(): string {
  return `sp-${randomBytes(8).toString('hex')}`;
}

/** Whether `id` has the shape of a savepoint id. */
export function isSavepointId(id: string): boolean {
  return SAVEPOINT_ID.test(id);
}

/**
 * Returns `id` if it has the shape of a savepoint id, else WEIR_SAVEPOINT_ID_INVALID. Stores call
 * it before using an id in a key or a path, so user input never reaches either unchecked.
 */
export function assertSavepointId(id: string): string {
  if (!isSavepointId(id)) {
    throw new WeirError('WEIR_SAVEPOINT_ID_INVALID', `'${id}' is not a savepoint id: they are 'sp-' and 16 hex digits; list them with GET /savepoints or 'weir savepoints'`);
  }
  return id;
}

type OperatorBlobs = Pick<SavepointOperator, 'keyGroups' | 'keyGroupParts' | 'operatorState'>;

/** Every blob name of one operator in a savepoint: each key group's parts in order, then operator state. */
export function savepointOperatorBlobNames(op: OperatorBlobs): string[] {
  return [...Object.keys(op.keyGroups).flatMap((g) => savepointKeyGroupParts(op, Number(g))), ...Object.values(op.operatorState)];
}

/** Every blob name a savepoint's metadata refers to, operator by operator, key groups first. */
export function savepointBlobNames(metadata: { readonly operators: Readonly<Record<string, OperatorBlobs>> }): string[] {
  return Object.values(metadata.operators).flatMap(savepointOperatorBlobNames);
}

/** One blob of a savepoint to be: its canonical name and the checkpoint chain it is made of. */
export interface SavepointBlobSource {
  readonly name: string;
  /** Checkpoint blob names: one full base, or a base and deltas that are merged. */
  readonly chain: readonly string[];
}

/** The blobs a savepoint of `checkpoint` consists of (empty chains hold no state and are left out). */
export function savepointSources(checkpoint: CompletedCheckpoint): SavepointBlobSource[] {
  return Object.entries(checkpoint.operators).flatMap(([uid, op]) => [
    ...Object.entries(op.keyGroups).flatMap(([g, chain]) => (chain.length > 0 ? [{ name: savepointKeyGroupBlob(uid, Number(g)), chain }] : [])),
    ...Object.entries(op.operatorState).map(([s, name]) => ({ name: savepointOperatorStateBlob(uid, Number(s)), chain: [name] })),
  ]);
}

/**
 * The canonical blob names of a detached savepoint the workers wrote, checked against what
 * `savepointSources` expects (a key group's chain is its canonical parts in order, an operator
 * state its canonical name): RangeError otherwise.
 */
export function takenSavepointNames(taken: CompletedCheckpoint): string[] {
  return savepointSources(taken).flatMap((s) => {
    const parts = s.name.startsWith('ks/') ? s.chain.length : 1;
    if (parts > MAX_SAVEPOINT_PARTS || s.chain.length !== parts || s.chain.some((n, i) => n !== savepointPartName(s.name, i))) {
      throw new RangeError(`a detached savepoint's blob for '${s.name}' is named ${JSON.stringify(s.chain)}`);
    }
    return [...s.chain];
  });
}

/**
 * Every blob name a detached savepoint of these operators could hold (all key groups, all
 * subtasks): what an abandon deletes, since the workers may have written any of them.
 */
export function possibleSavepointNames(operators: readonly { readonly uid: string; readonly parallelism: number; readonly maxParallelism: number }[]): string[] {
  return operators.flatMap((op) => [
    ...Array.from({ length: op.maxParallelism }, (_, g) => Array.from({ length: MAX_SAVEPOINT_PARTS }, (_, i) => savepointPartName(savepointKeyGroupBlob(op.uid, g), i))).flat(),
    ...Array.from({ length: op.parallelism }, (_, s) => savepointOperatorStateBlob(op.uid, s)),
  ]);
}

/**
 * Metadata of savepoint `id` made of `checkpoint`; `sizes` has the bytes of every canonical blob,
 * or of every operator (uid -> bytes) where the workers reported them (a detached savepoint).
 * A key group's parts are its chain's length when the chain holds canonical part names (a detached
 * savepoint); otherwise (a checkpoint being copied out, chains merged) one.
 * An operator the job info does not describe is recorded as kind 'unknown', keyed if it has key groups.
 */
export function savepointMetadata(id: string, checkpoint: CompletedCheckpoint, info: SavepointJobInfo, sizes: ReadonlyMap<string, number> | Readonly<Record<string, number>>, createdAt: number): SavepointMetadata {
  const operators: Record<string, SavepointOperator> = {};
  for (const [uid, op] of Object.entries(checkpoint.operators)) {
    const described = Object.hasOwn(info.operators, uid) ? info.operators[uid] : undefined;
    const keyGroups: Record<number, string> = {};
    const keyGroupParts: Record<number, number> = {};
    const operatorState: Record<number, string> = {};
    for (const [g, chain] of Object.entries(op.keyGroups)) {
      if (chain.length === 0) continue;
      const name = savepointKeyGroupBlob(uid, Number(g));
      keyGroups[Number(g)] = name;
      if (chain.length > 1 && chain.every((n, i) => n === savepointPartName(name, i))) keyGroupParts[Number(g)] = chain.length;
    }
    for (const s of Object.keys(op.operatorState)) operatorState[Number(s)] = savepointOperatorStateBlob(uid, Number(s));
    const bytes = sizes instanceof Map ? savepointOperatorBlobNames({ keyGroups, keyGroupParts, operatorState }).reduce((sum, n) => sum + (sizes.get(n) ?? 0), 0) : Object.hasOwn(sizes, uid) ? (sizes as Readonly<Record<string, number>>)[uid]! : 0;
    operators[uid] = {
      uid,
      kind: described?.kind ?? 'unknown',
      parallelism: op.parallelism,
      maxParallelism: op.maxParallelism,
      keyed: described?.keyed ?? Object.keys(keyGroups).length > 0,
      // Left out rather than undefined: the metadata goes through JSON and must compare equal after.
      ...(described?.state ? { state: { ...described.state } } : {}),
      keyGroups,
      // Left out when every key group is one blob: such metadata reads as format 1 did.
      ...(Object.keys(keyGroupParts).length > 0 ? { keyGroupParts } : {}),
      operatorState,
      bytes,
    };
  }
  return {
    formatVersion: SAVEPOINT_FORMAT_VERSION,
    id,
    jobName: info.jobName,
    jobVersion: info.jobVersion,
    jobId: checkpoint.jobId,
    checkpointId: checkpoint.id,
    reason: info.reason,
    createdAt,
    sizeBytes: Object.values(operators).reduce((sum, op) => sum + op.bytes, 0),
    operators,
  };
}

/** A blob copy from the savepoint (canonical name) into the job's namespace (names.ts name). */
export interface MaterializeCopy {
  readonly from: string;
  readonly to: string;
}

/**
 * The checkpoint `SavepointStore.materialize` commits for `target`, and the copies it needs first.
 * Uids the savepoint lacks are left out: those operators start without state.
 */
export function materializePlan(metadata: SavepointMetadata, target: Parameters<SavepointStore['materialize']>[1], completedAt: number): { checkpoint: CompletedCheckpoint; copies: MaterializeCopy[] } {
  const cpId = metadata.checkpointId;
  const operators: Record<string, OperatorSnapshot> = {};
  const copies: MaterializeCopy[] = [];
  let stateBytes = 0;
  for (const uid of target.uids) {
    // Own properties only: a job's uid may be 'constructor' or 'toString'.
    const op = Object.hasOwn(metadata.operators, uid) ? metadata.operators[uid] : undefined;
    if (!op) continue;
    const keyGroups: Record<number, string[]> = {};
    const operatorState: Record<number, string> = {};
    for (const g of Object.keys(op.keyGroups).map(Number)) {
      // Parts become the job's chain: a base, then deltas (a savepoint's parts are exactly that).
      const chain = savepointKeyGroupParts(op, g).map((from, i) => {
        const to = i === 0 ? keyGroupBlob(uid, g, 0, cpId, 'base') : `${keyGroupBlob(uid, g, 0, cpId, 'delta')}-${i}`;
        copies.push({ from, to });
        return to;
      });
      keyGroups[g] = chain;
    }
    if (!target.withoutOperatorState.includes(uid)) {
      for (const [s, from] of Object.entries(op.operatorState)) {
        const to = operatorStateBlob(uid, Number(s), 0, cpId);
        operatorState[Number(s)] = to;
        copies.push({ from, to });
      }
    }
    operators[uid] = { maxParallelism: op.maxParallelism, parallelism: op.parallelism, keyGroups, operatorState };
    stateBytes += op.bytes; // the metadata has sizes per operator only: an estimate when operator state is left out
  }
  const checkpoint: CompletedCheckpoint = {
    formatVersion: 1,
    id: cpId,
    jobId: target.jobId,
    attempt: target.attempt,
    timestamp: metadata.createdAt,
    completedAt,
    operators,
    finished: [],
    stateBytes,
    writtenBytes: 0, // the job wrote nothing: its state was copied in
  };
  return { checkpoint, copies };
}
