/** What the coordinator reads from the acknowledgements of a detached savepoint: its sizes and the job blobs it refers to. */
import type { SavepointReferences, SubtaskSnapshot } from '@weir/runtime';
import { WeirError } from '@weir/sdk';

/**
 * Per operator, the savepoint bytes its subtasks reported; undefined if any ack lacks them (a
 * worker of an older version), and then the store reads the sizes itself.
 */
export function reportedBytes(acks: readonly SubtaskSnapshot[]): Record<string, number> | undefined {
  const bytes: Record<string, number> = {};
  for (const ack of acks) {
    for (const [uid, snap] of Object.entries(ack.operators)) {
      if (snap.savepointBytes === undefined) return undefined;
      // Own properties only: bytes['constructor'] would start from Object otherwise.
      bytes[uid] = (Object.hasOwn(bytes, uid) ? bytes[uid]! : 0) + snap.savepointBytes;
    }
  }
  return bytes;
}

/**
 * The job blobs a detached savepoint's parts are still made of: for every key group a subtask
 * handed over as a chain (savepointChains), part i of the key group from chain blob i.
 */
export function savepointReferences(jobId: string, acks: readonly SubtaskSnapshot[]): SavepointReferences {
  const copies: { from: string; to: string }[] = [];
  for (const ack of acks) {
    for (const op of Object.values(ack.operators)) {
      for (const [g, chain] of Object.entries(op.savepointChains ?? {})) {
        const parts = op.keyGroups[Number(g)] ?? [];
        if (chain.length > parts.length) throw new WeirError('WEIR_INTERNAL', `a detached savepoint's key group ${g} has ${parts.length} parts for a chain of ${chain.length} blobs`);
        chain.forEach((from, i) => copies.push({ from, to: parts[i]! }));
      }
    }
  }
  return { jobId, copies };
}
