/**
 * A readable view of a savepoint's state (`weir inspect`): operators, key groups, sizes, and
 * sample keys with their values. State blobs are msgpackr; this turns them back into plain data.
 */
import { Unpackr } from 'msgpackr';
import { WeirError } from '@weir/sdk';
import { keyFromId, TIMERS } from '../state/heap-keyed-state.js';
import { applyKeyedBlob, readKeyedBlob } from '../state/keyed-blob.js';
import { savepointKeyGroupParts, savepointOperatorBlobNames } from './savepoint-names.js';
import type { SavepointMetadata } from './savepoint-types.js';

const unpackr = new Unpackr({ moreTypes: true });

export interface InspectOptions {
  /** Show sample keys/values of this operator. */
  readonly operator?: string;
  /** Only this state of each sampled key. */
  readonly state?: string;
  /** Sample size (default 10). */
  readonly limit?: number;
}

export interface OperatorInspection {
  readonly uid: string;
  readonly kind: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly keyed: boolean;
  readonly state: Readonly<Record<string, string>>;
  readonly keyGroups: number;
  readonly operatorStates: number;
  readonly bytes: number;
}

export interface SavepointInspection {
  readonly savepoint: Omit<SavepointMetadata, 'operators'>;
  readonly operators: readonly OperatorInspection[];
  /** With `operator`: keys found in its key groups (in group order) and their state, or its per-subtask operator state. */
  readonly sample?: {
    readonly operator: string;
    readonly keys: number;
    readonly entries: readonly { readonly keyGroup?: number; readonly subtask?: number; readonly key?: unknown; readonly value: unknown }[];
  };
}

/** Blob names `inspectSavepoint` needs for these options. */
export function blobsToInspect(meta: SavepointMetadata, opts: InspectOptions): string[] {
  if (!opts.operator) return [];
  const op = operatorOf(meta, opts.operator);
  return savepointOperatorBlobNames(op);
}

export function inspectSavepoint(meta: SavepointMetadata, blobs: ReadonlyMap<string, Uint8Array>, opts: InspectOptions = {}): SavepointInspection {
  const { operators, ...savepoint } = meta;
  const ops = Object.values(operators).map((o) => ({
    uid: o.uid,
    kind: o.kind,
    parallelism: o.parallelism,
    maxParallelism: o.maxParallelism,
    keyed: o.keyed,
    state: o.state ?? {},
    keyGroups: Object.keys(o.keyGroups).length,
    operatorStates: Object.keys(o.operatorState).length,
    bytes: o.bytes,
  }));
  if (!opts.operator) return { savepoint, operators: ops };
  const op = operatorOf(meta, opts.operator);
  const limit = opts.limit ?? 10;
  const entries: { keyGroup?: number; subtask?: number; key?: unknown; value: unknown }[] = [];
  let keys = 0;
  const groups = Object.keys(op.keyGroups).map(Number).sort((a, b) => a - b);
  for (const group of groups) {
    // A key group may be a base and deltas after it (savepoint format 2): show each key's last row.
    const rows = new Map<string, unknown>();
    savepointKeyGroupParts(op, group).forEach((name, i) => {
      const bytes = blobs.get(name);
      if (!bytes) throw new WeirError('WEIR_SNAPSHOT_MISSING', `state blob '${name}' was not read`);
      applyKeyedBlob(readKeyedBlob(bytes, `state blob '${name}'`, i === 0), rows);
    });
    for (const [id, row] of rows) {
      keys++;
      if (entries.length < limit) entries.push({ keyGroup: group, key: keyFromId(id), value: pick(row as Record<string, unknown>, opts.state) });
    }
  }
  for (const [subtask, name] of Object.entries(op.operatorState)) {
    const blob = decode(name, blobs) as { row?: Record<string, unknown>; value?: unknown };
    if (entries.length < limit) entries.push({ subtask: Number(subtask), value: blob.row ? pick(blob.row, opts.state) : blob.value });
  }
  return { savepoint, operators: ops, sample: { operator: op.uid, keys, entries } };
}

function operatorOf(meta: SavepointMetadata, uid: string) {
  // Own properties only: the uid comes from a query string ('__proto__', 'toString', …).
  const op = Object.hasOwn(meta.operators, uid) ? meta.operators[uid] : undefined;
  if (!op) throw new WeirError('WEIR_SAVEPOINT_OPERATOR_NOT_FOUND', `savepoint ${meta.id} has no operator '${uid}'; it has ${Object.keys(meta.operators).map((u) => `'${u}'`).join(', ')}`);
  return op;
}

/** One state of a row, or the whole row without the internal timers entry. */
function pick(row: Record<string, unknown>, state: string | undefined): unknown {
  if (state !== undefined) return Object.hasOwn(row, state) ? toPlain(row[state]) : undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) if (k !== TIMERS) out[k] = toPlain(v);
  if (row[TIMERS] !== undefined) out['(timers)'] = row[TIMERS];
  return out;
}

/** Maps and Sets become JSON-printable objects and arrays. */
function toPlain(v: unknown): unknown {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), toPlain(x)]));
  if (v instanceof Set) return [...v].map(toPlain);
  if (Array.isArray(v)) return v.map(toPlain);
  return v;
}

function decode(name: string, blobs: ReadonlyMap<string, Uint8Array>): unknown {
  const bytes = blobs.get(name);
  if (!bytes) throw new WeirError('WEIR_SNAPSHOT_MISSING', `state blob '${name}' was not read`);
  return unpackr.unpack(bytes);
}
