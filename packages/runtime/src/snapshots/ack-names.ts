/**
 * The blob names of a checkpoint acknowledgement, shortened for the wire: every key group's names
 * start with `ks/<uid>/<group>/`, which the receiver knows, so they travel without it. With
 * thousands of key groups per subtask (a large maxParallelism) the acknowledgement shrinks several
 * times before the transport deflates it (the remaining suffixes repeat across key groups), which
 * keeps it under NATS's max_payload.
 */
import type { OperatorSubtaskSnapshot, SubtaskSnapshot } from './types.js';

const prefixOf = (uid: string, group: string): string => `ks/${uid}/${group}`;

type Names = Readonly<Record<number, readonly string[]>>;

/** Each key group's names mapped by `fn(name, prefix)`. */
function mapNames(uid: string, byGroup: Names, fn: (name: string, prefix: string) => string): Record<number, readonly string[]> {
  const out: Record<number, readonly string[]> = {};
  for (const [g, names] of Object.entries(byGroup)) {
    const prefix = prefixOf(uid, g);
    out[Number(g)] = names.map((n) => fn(n, prefix));
  }
  return out;
}

// '/rest' for `${prefix}/rest`; a full name (never starting with '/') otherwise.
const shorten = (n: string, prefix: string): string => (n.startsWith(`${prefix}/`) ? n.slice(prefix.length) : n);
const lengthen = (n: string, prefix: string): string => (n.startsWith('/') ? `${prefix}${n}` : n);

/** `snapshot` with each key group's names (and a savepoint's chains) relative to its prefix where they have it. */
export function packAckNames(snapshot: SubtaskSnapshot): SubtaskSnapshot {
  const operators: Record<string, OperatorSubtaskSnapshot> = {};
  for (const [uid, op] of Object.entries(snapshot.operators)) {
    const chains = op.savepointChains ? { savepointChains: mapNames(uid, op.savepointChains, shorten) } : {};
    operators[uid] = { ...op, keyGroups: mapNames(uid, op.keyGroups, shorten), ...chains, namesRelative: true };
  }
  return { operators };
}

/** The inverse of {@link packAckNames}; operators not packed are returned as they are. */
export function unpackAckNames(snapshot: SubtaskSnapshot): SubtaskSnapshot {
  const operators: Record<string, OperatorSubtaskSnapshot> = {};
  for (const [uid, op] of Object.entries(snapshot.operators)) {
    if (op.namesRelative !== true) {
      operators[uid] = op;
      continue;
    }
    const { namesRelative: _, ...rest } = op;
    const chains = op.savepointChains ? { savepointChains: mapNames(uid, op.savepointChains, lengthen) } : {};
    operators[uid] = { ...rest, keyGroups: mapNames(uid, op.keyGroups, lengthen), ...chains };
  }
  return { operators };
}
