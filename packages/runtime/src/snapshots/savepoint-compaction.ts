/**
 * Compaction of a savepoint: a detached savepoint (format 2) holds each key group as the job's
 * checkpoint chain plus a tail (parts: a full base, then deltas), up to about 3× the live state.
 * Compacting folds every such key group into one full base, as a savepoint copied out of a
 * checkpoint holds it: half the bytes or less to keep, export and restore. Both savepoint stores
 * run the same steps over their own storage (CompactionStorage).
 *
 * Every step leaves a savepoint that restores to the same state, whichever metadata a reader holds
 * and wherever the coordinator may crash:
 * 1. the merged base replaces the key group's last part: a later base starts the chain over, so the
 *    old parts still read as the same state;
 * 2. the merged base replaces the first part (the deltas after it are then overridden by step 1);
 * 3. the metadata, if unchanged since step 1, names one part per key group;
 * 4. once no reader in this process is left that may still ask for them, the other parts go.
 * A crash before step 3 leaves the old metadata, whose parts hold the same state; the next
 * compaction finishes the work.
 */
import { ChainMergeThread } from './chain-merge-thread.js';
import { savepointKeyGroupParts, savepointOperatorBlobNames } from './savepoint-names.js';
import type { SavepointMetadata, SavepointOperator } from './savepoint-types.js';
import type { SavepointUsers } from './savepoint-users.js';
import type { BlobWrite } from './types.js';

/** Key groups read and merged at once: bounds the memory a compaction holds (about 3× this many key groups of the state). */
const COMPACT_CHUNK = 4;
/** How long step 4 waits for readers (a slow export) before it leaves the old parts to the disposal. */
const READERS_TIMEOUT_MS = 5 * 60_000;
/** Folds chains off the event loop; one thread for every compaction of this process. */
const merger = new ChainMergeThread();

/** One key group of several parts. */
export interface CompactionGroup {
  readonly uid: string;
  readonly group: number;
  /** Its parts, base first (canonical names). */
  readonly parts: readonly string[];
}

/** What a compaction did. */
export interface SavepointCompaction {
  readonly metadata: SavepointMetadata;
  readonly keyGroups: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** False if readers kept the replaced parts in use too long, or the compaction was stopped while they did: they stay until the savepoint is disposed. */
  readonly partsDeleted: boolean;
}

/** The storage of one savepoint, as a compaction uses it. */
export interface CompactionStorage {
  /** The metadata exactly as stored (compared in `replaceMeta`), or undefined. */
  readMeta(): Promise<string | undefined>;
  readBlobs(names: readonly string[]): Promise<Uint8Array[]>;
  /** Each blob replaced atomically (a reader sees the old bytes or the new); resolves once all are stored. */
  writeBlobs(blobs: readonly BlobWrite[]): Promise<void>;
  /** Each `to` replaced atomically by a copy of `from` inside the store (no bytes through this process). */
  copyBlobs(copies: readonly { readonly from: string; readonly to: string }[]): Promise<void>;
  /** The size in bytes of each named blob (0 for a missing one). */
  blobSizes(names: readonly string[]): Promise<number[]>;
  /** Store `next` if the metadata still is `expected`; false if it is not. */
  replaceMeta(expected: string, next: string): Promise<boolean>;
  deleteBlobs(names: readonly string[]): Promise<void>;
}

/** The key groups of `metadata` held in more than one part. */
export function compactionPlan(metadata: SavepointMetadata): CompactionGroup[] {
  return Object.entries(metadata.operators).flatMap(([uid, op]) =>
    Object.entries(op.keyGroupParts ?? {})
      .filter(([, n]) => n > 1)
      .map(([g]) => ({ uid, group: Number(g), parts: savepointKeyGroupParts(op, Number(g)) })),
  );
}

/**
 * `metadata` after `groups` were folded: one part each, `compactedAt` set, and each operator's
 * bytes as `bytes` (uid -> the bytes of its blobs as kept, recounted: after an interrupted
 * compaction some last parts were already replaced, so adjusting the stored figure would be wrong).
 */
export function compactedMetadata(metadata: SavepointMetadata, groups: readonly CompactionGroup[], bytes: ReadonlyMap<string, number>, at: number): SavepointMetadata {
  const operators: Record<string, SavepointOperator> = {};
  for (const [uid, op] of Object.entries(metadata.operators)) {
    const folded = new Set(groups.filter((g) => g.uid === uid).map((g) => String(g.group)));
    const parts = Object.fromEntries(Object.entries(op.keyGroupParts ?? {}).filter(([g, n]) => n > 1 && !folded.has(g)));
    const { keyGroupParts: _, ...rest } = op;
    operators[uid] = {
      ...rest,
      // Left out when every key group is one blob, as savepointMetadata does.
      ...(Object.keys(parts).length > 0 ? { keyGroupParts: parts } : {}),
      bytes: bytes.get(uid) ?? op.bytes,
    };
  }
  return { ...metadata, operators, sizeBytes: Object.values(operators).reduce((n, op) => n + op.bytes, 0), compactedAt: at };
}

/** uid -> the bytes of the operator's blobs that a compaction of `groups` keeps. */
async function keptBytes(metadata: SavepointMetadata, groups: readonly CompactionGroup[], storage: CompactionStorage): Promise<Map<string, number>> {
  const replaced = new Set(groups.flatMap((g) => g.parts.slice(1)));
  const kept = Object.entries(metadata.operators).map(([uid, op]) => ({ uid, names: savepointOperatorBlobNames(op).filter((n) => !replaced.has(n)) }));
  const sizes = await storage.blobSizes(kept.flatMap((k) => k.names));
  let at = 0;
  return new Map(kept.map((k) => [k.uid, sizes.slice(at, (at += k.names.length)).reduce((a, b) => a + b, 0)]));
}

/**
 * Compacts savepoint `id` (the steps above), alone with respect to other exclusive uses of it in
 * this process (disposal). Undefined if it is gone, has no key group of several parts, or `signal`
 * aborted it before the metadata step (it is then whole, and a later compaction finishes).
 */
export function compactSavepoint(id: string, storage: CompactionStorage, users: SavepointUsers, signal?: AbortSignal): Promise<SavepointCompaction | undefined> {
  return users.alone(id, async () => {
    const json = await storage.readMeta();
    if (json === undefined) return undefined;
    const metadata = JSON.parse(json) as SavepointMetadata;
    const groups = compactionPlan(metadata);
    if (groups.length === 0) return undefined;
    for (let i = 0; i < groups.length; i += COMPACT_CHUNK) {
      if (signal?.aborted) return undefined;
      const chunk = groups.slice(i, i + COMPACT_CHUNK);
      const read = await storage.readBlobs(chunk.flatMap((g) => g.parts));
      let at = 0;
      const chains = chunk.map((g) => read.slice(at, (at += g.parts.length)));
      // On a thread: a large key group is seconds of CPU the coordinator must not be blocked for.
      const merged = await Promise.all(chains.map((chain) => merger.merge(chain)));
      await storage.writeBlobs(chunk.map((g, j) => ({ name: g.parts[g.parts.length - 1]!, bytes: merged[j]! }))); // step 1
      await storage.copyBlobs(chunk.map((g) => ({ from: g.parts[g.parts.length - 1]!, to: g.parts[0]! }))); // step 2
    }
    const next = compactedMetadata(metadata, groups, await keptBytes(metadata, groups, storage), Date.now());
    if (!(await storage.replaceMeta(json, JSON.stringify(next)))) return undefined; // step 3 (changed meanwhile: left as it is, still whole)
    // Stopped while readers are left: the replaced parts stay, and the disposal sweeps them (compactedAt is set).
    const partsDeleted = await users.idle(id, READERS_TIMEOUT_MS, signal);
    if (partsDeleted) await storage.deleteBlobs(groups.flatMap((g) => g.parts.slice(1))); // step 4
    return { metadata: next, keyGroups: groups.length, bytesBefore: metadata.sizeBytes, bytesAfter: next.sizeBytes, partsDeleted };
  });
}
