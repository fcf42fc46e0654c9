/**
 * Savepoint ids, the canonical blob names inside a savepoint, and how they map from a checkpoint's
 * blob names (create) and to a job's (materialize); both stores use these mappings. Canonical names
 * carry neither attempt nor checkpoint id: a savepoint holds one blob per key group and per subtask.
 */
import { randomBytes } from 'node:crypto';
import { WeirError } from '@weir/sdk';
import { keyGroupBlob, operatorStateBlob } from './names.js';
import { SAVEPOINT_FORMAT_VERSION, type SavepointJobInfo, type SavepointMetadata, type SavepointOperator, type SavepointStore } from './savepoint-types.js';
import type { CompletedCheckpoint, OperatorSnapshot } from './types.js';

const SAVEPOINT_ID = /^sp-[0-9a-f]{16}$/;

/** Canonical name of one key group's full state in a savepoint. */
export function savepointKeyGroupBlob(uid: string, keyGroup: number): string {
  return `ks/${uid}/${keyGroup}`;
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

/** Every blob name a savepoint's metadata refers to, operator by operator, key groups first. */
export function savepointBlobNames(metadata: Pick<SavepointMetadata, 'operators'>): string[] {
  return Object.values(metadata.operators).flatMap((op) => [...Object.values(op.keyGroups), ...Object.values(op.operatorState)]);
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
 * `savepointSources` expects (each chain is exactly its canonical name): RangeError otherwise.
 */
export function takenSavepointNames(taken: CompletedCheckpoint): string[] {
  return savepointSources(taken).map((s) => {
    if (s.chain.length !== 1 || s.chain[0] !== s.name) throw new RangeError(`a detached savepoint's blob for '${s.name}' is named ${JSON.stringify(s.chain)}`);
    return s.name;
  });
}

/**
 * Every blob name a detached savepoint of these operators could hold (all key groups, all
 * subtasks): what an abandon deletes, since the workers may have written any of them.
 */
export function possibleSavepointNames(operators: readonly { readonly uid: string; readonly parallelism: number; readonly maxParallelism: number }[]): string[] {
  return operators.flatMap((op) => [
    ...Array.from({ length: op.maxParallelism }, (_, g) => savepointKeyGroupBlob(op.uid, g)),
    ...Array.from({ length: op.parallelism }, (_, s) => savepointOperatorStateBlob(op.uid, s)),
  ]);
}

/**
 * Metadata of savepoint `id` made of `checkpoint`; `sizes` has the bytes of every canonical blob.
 * An operator the job info does not describe is recorded as kind 'unknown', keyed if it has key groups.
 */
export function savepointMetadata(id: string, checkpoint: CompletedCheckpoint, info: SavepointJobInfo, sizes: ReadonlyMap<string, number>, createdAt: number): SavepointMetadata {
  const operators: Record<string, SavepointOperator> = {};
  for (const [uid, op] of Object.entries(checkpoint.operators)) {
    const described = info.operators[uid];
    const keyGroups: Record<number, string> = {};
    const operatorState: Record<number, string> = {};
    for (const [g, chain] of Object.entries(op.keyGroups)) if (chain.length > 0) keyGroups[Number(g)] = savepointKeyGroupBlob(uid, Number(g));
    for (const s of Object.keys(op.operatorState)) operatorState[Number(s)] = savepointOperatorStateBlob(uid, Number(s));
    const bytes = [...Object.values(keyGroups), ...Object.values(operatorState)].reduce((sum, n) => sum + (sizes.get(n) ?? 0), 0);
    operators[uid] = {
      uid,
      kind: described?.kind ?? 'unknown',
      parallelism: op.parallelism,
      maxParallelism: op.maxParallelism,
      keyed: described?.keyed ?? Object.keys(keyGroups).length > 0,
      // Left out rather than undefined: the metadata goes through JSON and must compare equal after.
      ...(described?.state ? { state: { ...described.state } } : {}),
      keyGroups,
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
    const op = metadata.operators[uid];
    if (!op) continue;
    const keyGroups: Record<number, string[]> = {};
    const operatorState: Record<number, string> = {};
    for (const [g, from] of Object.entries(op.keyGroups)) {
      const to = keyGroupBlob(uid, Number(g), 0, cpId, 'base');
      keyGroups[Number(g)] = [to];
      copies.push({ from, to });
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
