/**
 * The blob names of a checkpoint acknowledgement, shortened for the wire: every key group's names
 * start with `ks/<uid>/<group>/`, which the receiver knows, so they travel without it. With
 * thousands of key groups per subtask (a large maxParallelism) the acknowledgement shrinks several
 * times before the transport deflates it (the remaining suffixes repeat across key groups), which
 * keeps it under NATS's max_payload.
 */
import type { OperatorSubtaskSnapshot, SubtaskSnapshot } from './types.js';

const prefixOf = (uid: string, group: string): string => `ks/${uid}/${group}`;

/** `snapshot` with each key group's names relative to its prefix where they have it. */
export function packAckNames(snapshot: SubtaskSnapshot): SubtaskSnapshot {
  const operators: Record<string, OperatorSubtaskSnapshot> = {};
  for (const [uid, op] of Object.entries(snapshot.operators)) {
    const keyGroups: Record<number, readonly string[]> = {};
    for (const [g, names] of Object.entries(op.keyGroups)) {
      const prefix = prefixOf(uid, g);
      // '/rest' for `${prefix}/rest`; a full name (never starting with '/') otherwise.
      keyGroups[Number(g)] = names.map((n) => (n.startsWith(`${prefix}/`) ? n.slice(prefix.length) : n));
    }
    operators[uid] = { ...op, keyGroups, namesRelative: true };
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
    const keyGroups: Record<number, readonly string[]> = {};
    for (const [g, names] of Object.entries(op.keyGroups)) {
      const prefix = prefixOf(uid, g);
      keyGroups[Number(g)] = names.map((n) => (n.startsWith('/') ? `${prefix}${n}` : n));
    }
    const { namesRelative: _, ...rest } = op;
    operators[uid] = { ...rest, keyGroups };
  }
  return { operators };
}
