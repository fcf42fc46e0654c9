/**
 * A readable view of a savepoint's state (`weir inspect`): operators, key groups, sizes, and
 * sample keys with their values. State blobs are msgpackr; this turns them back into plain data.
 */
import { Unpackr } from 'msgpackr';
import { WeirError } from '@weir/sdk';
import { keyFromId, TIMERS } from '../state/heap-keyed-state.js';
import { applyKeyedBlob, readKeyedBlob } from '../state/keyed-blob.js';
import { savepointKeyGroupParts } from './savepoint-names.js';
import type { SavepointMetadata } from './savepoint-types.js';

const unpackr = new Unpackr({ moreTypes: true });

export interface InspectOptions {
  /** Show sample keys/values of this operator. */
  readonly operator?: string;
  /** Only this state of each sampled key. */
  readonly state?: string;
  /** Sample size (default 10). */
  readonly limit?: number;
  /** Read every key group, to count all the operator's keys (otherwise reading stops once the sample is full). */
  readonly count?: boolean;
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
    /** The keys in the key groups read: all of the operator's when `keyGroupsRead` is its number of key groups. */
    readonly keys: number;
    /** Key groups read, from the lowest: reading stops once `limit` entries are found, unless `count` is set. */
    readonly keyGroupsRead: number;
    readonly entries: readonly { readonly keyGroup?: number; readonly subtask?: number; readonly key?: unknown; readonly value: unknown }[];
  };
}

/** Reads a savepoint's blobs by canonical name, in the order asked. */
export type InspectBlobReader = (names: readonly string[]) => Promise<readonly Uint8Array[]>;

/**
 * Key groups read and decoded at once: a sample needs only the first few, and memory stays bounded
 * by a few key groups whatever the operator's size.
 */
const INSPECT_CHUNK_GROUPS = 4;
/** Operator-state blobs (one per subtask) read at once. */
const INSPECT_CHUNK_SUBTASKS = 16;

/**
 * A readable view of savepoint `meta`; with `opts.operator`, sample entries of that operator read
 * through `read` a few key groups at a time, stopping once `limit` entries are found (all key
 * groups with `opts.count`), then its operator state if the sample has room.
 */
export async function inspectSavepoint(meta: SavepointMetadata, read: InspectBlobReader, opts: InspectOptions = {}): Promise<SavepointInspection> {
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
  let keyGroupsRead = 0;
  const groups = Object.keys(op.keyGroups).map(Number).sort((a, b) => a - b);
  for (let i = 0; i < groups.length && (opts.count || entries.length < limit); i += INSPECT_CHUNK_GROUPS) {
    const chunk = groups.slice(i, i + INSPECT_CHUNK_GROUPS).map((group) => ({ group, parts: savepointKeyGroupParts(op, group) }));
    const bytes = await read(chunk.flatMap((c) => c.parts));
    let at = 0;
    for (const { group, parts } of chunk) {
      // A key group may be a base and deltas after it (savepoint format 2): show each key's last row.
      const rows = new Map<string, unknown>();
      parts.forEach((name, j) => applyKeyedBlob(readKeyedBlob(blobAt(bytes, at + j, name), `state blob '${name}'`, j === 0), rows));
      at += parts.length;
      keyGroupsRead++;
      for (const [id, row] of rows) {
        keys++;
        if (entries.length < limit) entries.push({ keyGroup: group, key: keyFromId(id), value: pick(row as Record<string, unknown>, opts.state) });
      }
    }
  }
  const subtasks = Object.entries(op.operatorState).slice(0, Math.max(0, limit - entries.length));
  for (let i = 0; i < subtasks.length; i += INSPECT_CHUNK_SUBTASKS) {
    const chunk = subtasks.slice(i, i + INSPECT_CHUNK_SUBTASKS);
    const bytes = await read(chunk.map(([, name]) => name));
    chunk.forEach(([subtask, name], j) => {
      const blob = unpackr.unpack(blobAt(bytes, j, name)) as { row?: Record<string, unknown>; value?: unknown };
      entries.push({ subtask: Number(subtask), value: blob.row ? pick(blob.row, opts.state) : blob.value });
    });
  }
  return { savepoint, operators: ops, sample: { operator: op.uid, keys, keyGroupsRead, entries } };
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

function blobAt(bytes: readonly Uint8Array[], i: number, name: string): Uint8Array {
  const blob = bytes[i];
  if (!blob) throw new WeirError('WEIR_SNAPSHOT_MISSING', `state blob '${name}' was not read`);
  return blob;
}
