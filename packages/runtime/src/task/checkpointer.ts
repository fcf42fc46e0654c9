import type { Logger } from 'pino';
import type { BlobWrite, ChainedBlobWrite, CompletedCheckpoint, OperatorSubtaskSnapshot, SavepointBlobWrite, SnapshotStore, SubtaskCheckpointStats, SubtaskSnapshot } from '../snapshots/types.js';
import { chainedWriteParts } from '../snapshots/savepoint-names.js';
import type { Barrier } from './barrier-aligner.js';
import type { EdgeWriter } from './edge-writer.js';
import type { OperatorInstance } from './operators.js';

/** What a subtask tells the coordinator about one checkpoint. */
export type CheckpointReport =
  | { readonly kind: 'ack'; readonly checkpointId: number; readonly snapshot: SubtaskSnapshot; readonly stats: SubtaskCheckpointStats }
  | { readonly kind: 'decline'; readonly checkpointId: number; readonly reason: string };

export interface CheckpointerSetup {
  readonly jobId: string;
  readonly attempt: number;
  readonly subtask: number;
  readonly store: SnapshotStore;
  readonly operators: readonly OperatorInstance[];
  readonly writers: readonly EdgeWriter[];
  readonly log: Logger;
  report(r: CheckpointReport): void;
  /** An asynchronous write failed: the task fails (recovery restores the last completed checkpoint). */
  fail(e: unknown): void;
}

/**
 * A subtask's side of a checkpoint: the synchronous capture of every operator's state, the barrier
 * forwarded on every output, then the asynchronous write while records keep flowing. Writes are
 * chained so that a checkpoint's blobs are stored before the next one's.
 */
export class Checkpointer {
  private writes: Promise<void> = Promise.resolve();
  /** Settles once every checkpoint write of this subtask so far has been sent to the store (or ended). */
  private sent: Promise<void> = Promise.resolve();

  constructor(private readonly s: CheckpointerSetup) {}

  /** Snapshot for `barrier` (sources: on trigger; others: once aligned) and forward it. */
  perform(barrier: Barrier, alignmentMs: number, startDelayMs = 0): void {
    const started = performance.now();
    // The barrier goes downstream first (Flink's order): the capture below emits nothing, and the
    // next tasks can align and capture while this one does.
    for (const w of this.s.writers) w.barrier(barrier);
    if (barrier.savepoint !== undefined) return this.performSavepoint(barrier, barrier.savepoint, { alignmentMs, startDelayMs }, started);
    const blobs: BlobWrite[] = [];
    const durable: Promise<void>[] = [];
    const operators: Record<string, OperatorSubtaskSnapshot> = {};
    let stateBytes = 0;
    let packedAheadBytes = 0;
    for (const op of this.s.operators) {
      if (!op.snapshotState) continue;
      const captured = op.snapshotState(this.s.attempt, barrier.id, barrier.full === true ? 'full' : 'incremental');
      packedAheadBytes += captured.packedAheadBytes ?? 0;
      blobs.push(...captured.blobs);
      if (captured.durable) durable.push(captured.durable);
      operators[op.node.uid] = captured.snapshot;
      stateBytes += captured.stateBytes;
    }
    const syncMs = performance.now() - started;
    const { store, jobId, attempt } = this.s;
    let markSent!: () => void;
    this.sent = new Promise<void>((resolve) => (markSent = resolve));
    this.writes = this.writes.then(async () => {
      const asyncStarted = performance.now();
      try {
        await Promise.all(durable);
        const write = store.writeBlobs(jobId, attempt, blobs);
        markSent();
        const writtenBytes = await write;
        const stats: SubtaskCheckpointStats = { syncMs, asyncMs: performance.now() - asyncStarted, alignmentMs, startDelayMs, stateBytes, writtenBytes, packedAheadBytes };
        this.s.report({ kind: 'ack', checkpointId: barrier.id, snapshot: { operators }, stats });
      } catch (e) {
        this.s.log.error({ err: e, checkpoint: barrier.id }, 'checkpoint write failed');
        this.s.report({ kind: 'decline', checkpointId: barrier.id, reason: `state write failed: ${(e as Error).message}` });
        // Chains of later snapshots may name the blobs that were not written: start over from the last completed checkpoint.
        this.s.fail(e);
      } finally {
        markSent();
      }
    });
    // Never rejects, even if reporting did: a rejected chain would skip the later writes' callbacks,
    // and a savepoint waiting for them to be sent would wait for ever.
    this.writes = this.writes.catch((e: unknown) => this.s.log.error({ err: e, checkpoint: barrier.id }, 'checkpoint write could not be reported'));
  }

  /**
   * A detached savepoint: every operator's whole state, written straight into the savepoint. Each
   * packed blob is sent as soon as it is made, so the store takes it in while the next one is
   * packed (the socket write happens inside the capture). A key group whose checkpoint chain is
   * stored comes as a chained write (the chain plus the rows changed since): the store checks the
   * chain's blobs after every earlier checkpoint write of this subtask, so each chain blob it names
   * is there (see below for when the check and the tails are sent); the acknowledgement names the
   * chains (savepointChains), which the coordinator keeps until the savepoint holds copies. The
   * job's checkpoint chains are not touched, so a failed write only declines the savepoint.
   */
  private performSavepoint(barrier: Barrier, savepointId: string, waits: Pick<SubtaskCheckpointStats, 'alignmentMs' | 'startDelayMs'>, started: number): void {
    const { store, attempt, jobId } = this.s;
    // Per operator: its blob writes, and its chained writes (their check sent below, behind the earlier checkpoint writes).
    const parts: { uid: string; snapshot: OperatorSubtaskSnapshot; writes: Promise<number>[]; chained: ChainedBlobWrite[] }[] = [];
    let stateBytes = 0;
    let packedAheadBytes = 0;
    for (const op of this.s.operators) {
      if (!op.snapshotState) continue;
      const part: (typeof parts)[number] = { uid: op.node.uid, snapshot: { keyGroups: {} }, writes: [], chained: [] };
      const emit = (b: SavepointBlobWrite): void => {
        if ('chain' in b) part.chained.push(b);
        else part.writes.push(store.writeSavepointBlobs(savepointId, attempt, [b]));
      };
      const captured = op.snapshotState(attempt, barrier.id, 'savepoint', emit);
      packedAheadBytes += captured.packedAheadBytes ?? 0;
      for (const b of captured.blobs) emit(b);
      part.snapshot = captured.snapshot;
      parts.push(part);
      stateBytes += captured.stateBytes;
    }
    const syncMs = performance.now() - started;
    // The chained writes' tails must not wait for the earlier checkpoint writes (after a checkpoint
    // of many new bases, that wait took most of a savepoint's time); only the check of the chains
    // must come after them. `this.writes` never rejects (a failure declines or fails the task): once
    // it settles, every chain blob is stored. A store that serves calls in order (Redis) needs only
    // those writes sent: the check runs after them (a write that failed leaves a blob missing, and
    // the check declines), so the tails go with it, in one call per operator. Other stores get the
    // tails at once, as blobs of the savepoint (their parts' names), and the check once the writes
    // are done. Nor is a chain blob deleted before the savepoint holds a copy: the coordinator keeps
    // every blob a checkpoint drops from the savepoint's trigger until its copy is made (JobCheckpoints' pins).
    const ordered = store.ordered === true;
    const earlier = ordered ? this.sent : this.writes;
    if (!ordered) {
      for (const p of parts) {
        const tails = p.chained.flatMap((w) => (w.tail ? [{ name: chainedWriteParts(w).at(-1)!, bytes: w.tail }] : []));
        if (tails.length > 0) p.writes.push(store.writeSavepointBlobs(savepointId, attempt, tails));
      }
    }
    /** An operator's bytes in the store, and the bytes this subtask sent for it: packed blobs and tails. */
    const stored = async (p: (typeof parts)[number]): Promise<{ held: number; sent: number }> => {
      const chains = ordered ? p.chained : p.chained.map(({ name, chain }) => ({ name, chain }));
      const tailBytes = ordered ? p.chained.reduce((n, w) => n + (w.tail?.byteLength ?? 0), 0) : 0;
      const chained = chains.length > 0 ? earlier.then(() => store.writeSavepointChains(jobId, savepointId, attempt, chains)) : 0;
      const [packed, made] = await Promise.all([Promise.all(p.writes).then((sizes) => sizes.reduce((a, b) => a + b, 0)), chained]);
      return { held: packed + made, sent: packed + tailBytes };
    };
    const decline = (e: unknown): void => {
      this.s.log.error({ err: e, checkpoint: barrier.id, savepoint: savepointId }, 'savepoint write failed');
      this.s.report({ kind: 'decline', checkpointId: barrier.id, reason: `savepoint write failed: ${(e as Error).message}` });
    };
    Promise.all(parts.map(stored)).then((bytes) => {
      // Each operator's bytes as the store holds them or refers to them (chains stay the job's
      // blobs in Redis until the savepoint completed): the coordinator records the savepoint with
      // these figures, which the store checks, and the chains its parts are made of.
      const operators: Record<string, OperatorSubtaskSnapshot> = {};
      parts.forEach((p, i) => (operators[p.uid] = { ...p.snapshot, savepointBytes: bytes[i]!.held, ...chainsOf(p.snapshot, p.chained) }));
      const writtenBytes = bytes.reduce((n, b) => n + b.sent, 0);
      const stats: SubtaskCheckpointStats = { syncMs, asyncMs: performance.now() - started - syncMs, ...waits, stateBytes, writtenBytes, packedAheadBytes };
      this.s.report({ kind: 'ack', checkpointId: barrier.id, snapshot: { operators }, stats });
    }, decline);
  }

  /** Read and apply this subtask's share of a completed checkpoint. */
  async restore(checkpoint: CompletedCheckpoint): Promise<void> {
    const started = performance.now();
    const parts: { op: OperatorInstance; snapshot: OperatorSubtaskSnapshot }[] = [];
    const names: string[] = [];
    // Listed by its chain's head; subtask indexes mean other shares after a rescale.
    const head = this.s.operators[0]?.node;
    // Own properties only: a uid may be 'constructor' or 'toString', and a checkpoint materialized from a savepoint lacks new operators.
    const snapOf = (uid: string) => (Object.hasOwn(checkpoint.operators, uid) ? checkpoint.operators[uid] : undefined);
    const finishedBefore = head !== undefined && snapOf(head.uid)?.parallelism === head.parallelism && checkpoint.finished.includes(`${head.uid}/${this.s.subtask}`);
    for (const op of this.s.operators) {
      const snap = snapOf(op.node.uid);
      if (!snap || !op.restoreState || !op.restoreNames) continue;
      let snapshot: OperatorSubtaskSnapshot;
      if (snap.parallelism !== op.node.parallelism) {
        // Old subtask indexes mean nothing at the new parallelism: the operator gets every old blob and redistributes.
        const operatorStates = Array.from({ length: snap.parallelism }, (_, i) => snap.operatorState[i]);
        const finished = Array.from({ length: snap.parallelism }, (_, i) => i).filter((i) => checkpoint.finished.includes(`${op.node.uid}/${i}`));
        snapshot = { keyGroups: snap.keyGroups, rescaledFrom: { parallelism: snap.parallelism, operatorStates, finished } };
      } else {
        const operatorState = snap.operatorState[this.s.subtask];
        snapshot = { keyGroups: snap.keyGroups, ...(operatorState ? { operatorState } : {}) };
      }
      parts.push({ op, snapshot });
      names.push(...op.restoreNames(snapshot));
    }
    const unique = [...new Set(names)];
    const bytes = unique.length > 0 ? await this.s.store.readBlobs(this.s.jobId, unique) : [];
    const read = performance.now();
    const blobs = new Map(unique.map((n, i) => [n, bytes[i]!]));
    for (const { op, snapshot } of parts) op.restoreState!(snapshot, blobs);
    const applied = performance.now();
    for (const { op } of parts) await op.afterRestore?.({ finishedBefore });
    // Where the time went: the read from the store, decoding into the working state, the operators' follow-ups (sink commits).
    const phases = { readMs: Math.round(read - started), applyMs: Math.round(applied - read), afterMs: Math.round(performance.now() - applied) };
    this.s.log.info({ checkpoint: checkpoint.id, blobs: unique.length, bytes: bytes.reduce((n, b) => n + b.length, 0), ms: Math.round(performance.now() - started), ...phases }, 'state restored');
  }

  async notifyComplete(checkpointId: number): Promise<void> {
    for (const op of this.s.operators) await op.notifyCheckpointComplete?.(checkpointId);
  }

  /** Resolves when every started write is done. */
  settled(): Promise<void> {
    return this.writes;
  }
}

/** The `savepointChains` of an operator's acknowledgement: each chained key group's job chain, by group. */
function chainsOf(snapshot: OperatorSubtaskSnapshot, chained: readonly ChainedBlobWrite[]): Pick<OperatorSubtaskSnapshot, 'savepointChains'> {
  if (chained.length === 0) return {};
  const byName = new Map(chained.map((c) => [c.name, c.chain]));
  const chains: Record<number, readonly string[]> = {};
  for (const [g, parts] of Object.entries(snapshot.keyGroups)) {
    const chain = parts[0] === undefined ? undefined : byName.get(parts[0]);
    if (chain) chains[Number(g)] = chain;
  }
  return { savepointChains: chains };
}
