import type { ActorDefinition, JobArgs, Key, OperatorNode, UserLogger } from '@weir/sdk';
import type { Logger } from 'pino';
import { FINAL_TRANSACTION, isTransactional, RescaledPositions, type SinkWriter, type SourceReader, type TransactionalSinkWriter } from '../connectors/types.js';
import { crashPoint } from '../faults.js';
import { keyGroupRange, keyId, type KeyGroupRange } from '../keygroups.js';
import type { OperatorSubtaskSnapshot, SavepointBlobWrite } from '../snapshots/types.js';
import { operatorStateBlob } from '../snapshots/names.js';
import { savepointOperatorStateBlob } from '../snapshots/savepoint-names.js';
import { stateAccessors } from '../state/accessors.js';
import { HeapKeyedState, keyFromId, TIMERS, type StateRow } from '../state/heap-keyed-state.js';
import { redistributeRow } from '../state/redistribute.js';
import { packValue, SnapshotStrategy, unpackValue, type CapturedState, type SnapshotKind } from '../state/snapshot-strategy.js';

/** Where an operator's output goes: chained operators (direct calls) and network writers. */
export interface Collector {
  collect(record: unknown): void;
}

/** One operator of a chain, for one subtask. `process` is synchronous: chains are direct calls. */
export interface OperatorInstance {
  readonly node: OperatorNode;
  readonly counts: { in: number; out: number };
  out: Collector;
  process(record: unknown, input: number): void;
  /** The operator's input ended: emit what is left (actors' onEnd). */
  endInput(): void;
  /** Async work after a batch (sink writes); awaited by the task, so it backpressures. */
  afterBatch?(): Promise<void> | void;
  fireTimers?(now: number): void;
  nextTimer?(): number | undefined;
  /**
   * Synchronous part of a checkpoint: capture state to write (see SnapshotKind). With `emit`, blobs
   * may be handed over one by one while the capture goes on instead of returned in `blobs`.
   */
  snapshotState?(attempt: number, checkpointId: number, kind: SnapshotKind, emit?: (b: SavepointBlobWrite) => void): CapturedState;
  /** Blob names that restoring from `snapshot` reads. */
  restoreNames?(snapshot: OperatorSubtaskSnapshot): string[];
  restoreState?(snapshot: OperatorSubtaskSnapshot, blobs: ReadonlyMap<string, Uint8Array>): void;
  /**
   * After every operator restored: async follow-ups (sinks commit the restored transactions).
   * `finishedBefore`: this subtask had finished before the checkpoint, so what it holds is what it
   * left when it finished (a sink had committed all of it then).
   */
  afterRestore?(o?: { readonly finishedBefore: boolean }): Promise<void>;
  /** Decode up to `max` key groups restored lazily; returns how many are left (the task calls it while it runs). */
  decodeSome?(max: number): number;
  /** Pack changed keyed state ahead of the next capture (the task calls it while it runs, with checkpoints on). */
  prepackState?(): void;
  notifyCheckpointComplete?(checkpointId: number): Promise<void> | void;
  /** The task ends normally (not canceled, not failed): last writes and commits. */
  finish?(): Promise<void>;
  close(): Promise<void>;
}

/** The name of a subtask's non-keyed state blob: canonical inside a detached savepoint. */
function stateBlobName(uid: string, subtask: number, attempt: number, checkpointId: number, kind: SnapshotKind): string {
  return kind === 'savepoint' ? savepointOperatorStateBlob(uid, subtask) : operatorStateBlob(uid, subtask, attempt, checkpointId);
}

abstract class Base {
  readonly counts = { in: 0, out: 0 };
  out: Collector = { collect() {} };
  constructor(readonly node: OperatorNode) {}
  endInput(): void {}
  async close(): Promise<void> {}
  protected emit(r: unknown): void {
    this.counts.out++;
    this.out.collect(r);
  }
}

class MapOp extends Base implements OperatorInstance {
  private readonly fn = this.node.fn!;
  process(r: unknown): void {
    this.counts.in++;
    this.emit(this.fn(r));
  }
}

class FilterOp extends Base implements OperatorInstance {
  private readonly fn = this.node.fn!;
  process(r: unknown): void {
    this.counts.in++;
    if (this.fn(r)) this.emit(r);
  }
}

class FlatMapOp extends Base implements OperatorInstance {
  private readonly fn = this.node.fn!;
  process(r: unknown): void {
    this.counts.in++;
    for (const x of this.fn(r) as Iterable<unknown>) this.emit(x);
  }
}

/**
 * A source's head: records come from the reader through the task, not from an input. Its state
 * is the reader's position, restored before the reader opens.
 */
class SourceOp extends Base implements OperatorInstance {
  reader: SourceReader | undefined;
  /** Position restored from a checkpoint, handed to the reader factory (RescaledPositions after a rescale). */
  restoredPosition: unknown;
  constructor(
    node: OperatorNode,
    private readonly subtask: number,
  ) {
    super(node);
  }
  process(r: unknown): void {
    this.emit(r);
  }
  snapshotState(attempt: number, checkpointId: number, kind: SnapshotKind): CapturedState {
    const name = stateBlobName(this.node.uid, this.subtask, attempt, checkpointId, kind);
    const bytes = packValue(this.reader?.position() ?? this.restoredPosition ?? null);
    return { blobs: [{ name, bytes }], snapshot: { keyGroups: {}, operatorState: name }, stateBytes: bytes.length, writtenBytes: bytes.length };
  }
  restoreNames(snapshot: OperatorSubtaskSnapshot): string[] {
    return operatorStateNames(snapshot);
  }
  restoreState(snapshot: OperatorSubtaskSnapshot, blobs: ReadonlyMap<string, Uint8Array>): void {
    const rescaled = snapshot.rescaledFrom;
    // At another parallelism the reader needs every old subtask's position to find its share.
    if (rescaled) this.restoredPosition = new RescaledPositions(rescaled.parallelism, rescaled.operatorStates.map((n) => (n ? (unpackValue(n, blobs) ?? undefined) : undefined)));
    else if (snapshot.operatorState) this.restoredPosition = unpackValue(snapshot.operatorState, blobs) ?? undefined;
  }
}

/** Pre-committed transactions of a transactional sink, with their encoding (made once, stored in every checkpoint until committed). */
type Pending = { checkpointId: number; txn: unknown; packed: Uint8Array; origin: number }[];
/** How a pending transaction is stored: origin (the subtask that pre-committed it) is absent in older checkpoints. */
type StoredPending = [checkpointId: number, packed: Uint8Array, origin?: number];

/**
 * Transactions of completed checkpoints that may wait for their commit (the one being committed
 * included) before the sink's task waits. Commits run in the background, and nothing else slows
 * the input of an exactly-once sink: under a backlog the input would run ahead of the commits, and
 * every pending transaction is kept in memory and stored again in every checkpoint until it is
 * committed, so a lag would cost more with every checkpoint. Only commits already due are waited
 * for: they go on without this task, so the wait cannot block a checkpoint (a transaction whose
 * checkpoint failed is committed with the next one, whose barrier must pass through this task).
 */
const MAX_DUE_COMMITS = 1;

/**
 * A sink. With a transactional writer it takes part in checkpoints: pre-commit at the barrier
 * (the pending transactions are its operator state), commit when a checkpoint completes (in the
 * background, in checkpoint order), and commit the restored transactions again after a recovery.
 */
class SinkOp extends Base implements OperatorInstance {
  private buffer: unknown[] = [];
  private readonly txWriter: TransactionalSinkWriter | undefined;
  private pending: Pending = [];
  private commits: Promise<void> = Promise.resolve();
  /** The latest checkpoint notified complete: pending transactions up to it are due. */
  private completed = 0;
  /** Called after every commit (or failed commit): afterBatch waits here while too many are due. */
  private onCommitted: (() => void) | undefined;
  private commitFailed = false;
  constructor(
    node: OperatorNode,
    private readonly writer: SinkWriter,
    private readonly subtask: number,
    private readonly fail: (e: unknown) => void,
  ) {
    super(node);
    this.txWriter = isTransactional(writer) ? writer : undefined;
  }
  process(r: unknown): void {
    this.counts.in++;
    this.buffer.push(r);
  }
  afterBatch(): Promise<void> | void {
    const written = this.buffer.length === 0 ? undefined : this.writer.write(this.flushBuffer());
    if (!this.txWriter || this.due() <= MAX_DUE_COMMITS) return written;
    return (async () => {
      await written;
      while (this.due() > MAX_DUE_COMMITS && !this.commitFailed) await new Promise<void>((resolve) => (this.onCommitted = resolve));
    })();
  }
  private flushBuffer(): unknown[] {
    const batch = this.buffer;
    this.buffer = [];
    return batch;
  }
  /** Pending transactions whose checkpoint completed: their commits are queued or running. */
  private due(): number {
    let n = 0;
    for (const p of this.pending) if (p.checkpointId <= this.completed) n++;
    return n;
  }
  private committed(): void {
    const wake = this.onCommitted;
    this.onCommitted = undefined;
    wake?.();
  }
  snapshotState(attempt: number, checkpointId: number, kind: SnapshotKind): CapturedState {
    const name = stateBlobName(this.node.uid, this.subtask, attempt, checkpointId, kind);
    let durable: Promise<void> | undefined;
    // A detached savepoint never completes as a checkpoint: nothing is pre-committed for it, the
    // open transaction goes on into the next checkpoint.
    if (this.txWriter && kind !== 'savepoint') {
      const pre = this.txWriter.preCommit(checkpointId);
      this.pending.push({ checkpointId, txn: pre.txn, packed: packValue(pre.txn), origin: this.subtask });
      durable = pre.durable;
    }
    const bytes = packValue(this.pending.map((p): StoredPending => [p.checkpointId, p.packed, p.origin]));
    return { blobs: [{ name, bytes }], snapshot: { keyGroups: {}, operatorState: name }, stateBytes: bytes.length, writtenBytes: bytes.length, ...(durable ? { durable } : {}) };
  }
  restoreNames(snapshot: OperatorSubtaskSnapshot): string[] {
    return operatorStateNames(snapshot);
  }
  restoreState(snapshot: OperatorSubtaskSnapshot, blobs: ReadonlyMap<string, Uint8Array>): void {
    if (!this.txWriter) return;
    const read = (name: string | undefined, subtask: number): Pending =>
      ((name ? (unpackValue(name, blobs) as StoredPending[] | null) : null) ?? []).map(([checkpointId, packed, origin]) => ({ checkpointId, packed, origin: origin ?? subtask, txn: unpackValue('txn', new Map([['txn', packed]])) }));
    let entries: Pending;
    const rescaled = snapshot.rescaledFrom;
    if (rescaled) {
      // Every old subtask's transactions are committed by exactly one new subtask (old j by new j mod p),
      // under their origin's identity (message ids, commit markers), so a repeated commit changes nothing.
      // An old subtask that had finished committed all it held then (see afterRestore): not again.
      const p = this.node.parallelism;
      const finished = new Set(rescaled.finished ?? []);
      entries = rescaled.operatorStates.flatMap((name, j) => (j % p === this.subtask && !finished.has(j) ? read(name, j) : []));
      entries.sort((a, b) => a.checkpointId - b.checkpointId); // stable: old subtask order within a checkpoint
    } else {
      entries = read(snapshot.operatorState, this.subtask);
    }
    this.pending = entries;
  }
  async afterRestore(o?: { readonly finishedBefore: boolean }): Promise<void> {
    if (!this.txWriter) return;
    // A subtask reports FINISHED only after finish() committed every transaction it held, and the
    // checkpoints after that carry that state on: committing it again, possibly long after, would
    // rely on the sink's deduplication still remembering it (a stream's window, a marker's TTL),
    // or fail where the committed output was moved away (files).
    if (o?.finishedBefore) {
      this.pending = [];
      return;
    }
    // Every restored transaction belongs to a completed checkpoint (the one restored or older).
    await this.txWriter.recover?.(this.pending);
    for (const p of this.pending.splice(0)) await this.txWriter.commit(p.checkpointId, p.txn, p.origin);
  }
  notifyCheckpointComplete(checkpointId: number): void {
    if (!this.txWriter) return;
    this.completed = Math.max(this.completed, checkpointId);
    if (!this.pending.some((p) => p.checkpointId <= checkpointId)) return;
    const tx = this.txWriter;
    this.commits = this.commits.then(async () => {
      // What is due is read when this commit runs, not when the notification came: a transaction
      // stays pending until its commit returns, so an earlier notification's commit still running
      // would otherwise be repeated here (every one again per later notification while commits lag).
      const due = this.pending.filter((p) => p.checkpointId <= checkpointId);
      if (due.length === 0) return;
      crashPoint(`before-commit:${this.node.uid}:${this.subtask}`, checkpointId);
      for (const p of due) {
        await tx.commit(p.checkpointId, p.txn, p.origin);
        this.pending = this.pending.filter((x) => x !== p);
        this.committed();
      }
    }).catch((e) => {
      this.commitFailed = true;
      this.fail(e);
      this.committed(); // a waiting batch goes on; the task is failing
    });
  }
  /** The task finishes normally: commit what is left (never on cancel or failure). */
  async finish(): Promise<void> {
    await this.afterBatch();
    await this.commits;
    if (!this.txWriter) return;
    // Without checkpoints (or after the final one) what is left is committed now.
    const pending = this.pending.splice(0);
    const last = this.txWriter.preCommit(FINAL_TRANSACTION);
    await last.durable;
    for (const p of [...pending, { checkpointId: FINAL_TRANSACTION, txn: last.txn, origin: this.subtask }]) await this.txWriter.commit(p.checkpointId, p.txn, p.origin);
  }
  override async close(): Promise<void> {
    await this.commits.catch(() => undefined);
    await this.writer.close();
  }
}

/**
 * What Object.prototype.toString calls '[object Generator]' (its @@toStringTag), read directly:
 * toString builds a string per record.
 */
const isGenerator = (r: unknown): r is Generator<unknown> => r != null && (r as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'Generator';

export interface ActorRuntimeContext {
  readonly args: JobArgs;
  readonly subtask: number;
  readonly parallelism: number;
  readonly log: Logger;
  /** Deltas per key group before a new full base. */
  readonly maxDeltaChain: number;
  /** Ask the task to call fireTimers at (or soon after) this time. */
  wakeAt(time: number): void;
  /** Fail the task from background work (a sink's commit). */
  fail(e: unknown): void;
}

/** A user actor: keyed (state per key, timers) or not (state per subtask). */
class ActorOp extends Base implements OperatorInstance {
  readonly state: HeapKeyedState;
  private readonly def: ActorDefinition<unknown, unknown>;
  private readonly keys: ((r: unknown) => Key)[];
  private readonly ctx: { key: Key | undefined; [k: string]: unknown };
  /** Index of the timers kept in the rows (TIMERS): time -> keyId -> key. */
  private readonly timers = new Map<number, Map<string, Key>>();
  private readonly snapshots: SnapshotStrategy;
  private readonly range: KeyGroupRange;
  /** Keyed actors only: non-keyed state is one row, packed whole at each capture. */
  readonly prepackState?: () => void;

  constructor(
    node: OperatorNode,
    private readonly rt: ActorRuntimeContext,
  ) {
    super(node);
    this.def = node.actor as ActorDefinition<unknown, unknown>;
    this.keys = node.inputs.map((e) => e.key ?? (() => undefined as never));
    this.state = new HeapKeyedState(this.def.state, node.maxParallelism, node.keyed);
    this.snapshots = new SnapshotStrategy(this.state, node.uid, rt.subtask, rt.maxDeltaChain);
    if (node.keyed) this.prepackState = () => void this.snapshots.prepack();
    this.range = keyGroupRange(node.maxParallelism, rt.parallelism, rt.subtask);
    const log = rt.log.child({ operator: node.uid });
    const userLog: UserLogger = {
      debug: (m, f) => log.debug(f ?? {}, m),
      info: (m, f) => log.info(f ?? {}, m),
      warn: (m, f) => log.warn(f ?? {}, m),
      error: (m, f) => log.error(f ?? {}, m),
    };
    const self = this;
    const at = (time: number) => {
      const key = self.ctx.key;
      if (key === undefined) throw new Error('timers need a current key: register them from onMessage or onTimer of a keyed actor');
      const registered = (self.state.read(TIMERS) as number[] | undefined) ?? [];
      if (!registered.includes(time)) self.state.write(TIMERS, [...registered, time]);
      self.index(time, keyId(key), key);
      rt.wakeAt(time);
    };
    this.ctx = {
      key: undefined,
      state: stateAccessors(this.state, this.def.state),
      args: rt.args,
      subtask: { index: rt.subtask, parallelism: rt.parallelism, operatorUid: node.uid },
      log: userLog,
      now: () => Date.now(),
      timers: {
        at,
        after: (ms: number) => at(Date.now() + ms),
        delete(time: number) {
          const key = self.ctx.key;
          if (key === undefined) return;
          self.timers.get(time)?.delete(keyId(key));
          self.unregister(time);
        },
      },
    };
  }

  private index(time: number, id: string, key: Key): void {
    let bucket = this.timers.get(time);
    if (!bucket) this.timers.set(time, (bucket = new Map()));
    bucket.set(id, key);
  }

  /** Remove a timer of the current key from its row. */
  private unregister(time: number): void {
    const registered = this.state.read(TIMERS) as number[] | undefined;
    if (!registered?.includes(time)) return;
    if (registered.length === 1) this.state.remove(TIMERS);
    else this.state.write(TIMERS, registered.filter((t) => t !== time));
  }

  snapshotState(attempt: number, checkpointId: number, kind: SnapshotKind, emit?: (b: SavepointBlobWrite) => void): CapturedState {
    return this.snapshots.capture(attempt, checkpointId, kind, emit);
  }

  private owns = (group: number): boolean => group >= this.range.start && group <= this.range.end;

  restoreNames(snapshot: OperatorSubtaskSnapshot): string[] {
    const names = SnapshotStrategy.blobsToRead(snapshot, this.owns);
    if (!this.node.keyed && snapshot.rescaledFrom) names.push(...operatorStateNames(snapshot));
    return names;
  }

  restoreState(snapshot: OperatorSubtaskSnapshot, blobs: ReadonlyMap<string, Uint8Array>): void {
    const rescaled = snapshot.rescaledFrom;
    if (!this.node.keyed && rescaled) {
      // Non-keyed state has no key groups to move: rebuild this subtask's row from all old rows.
      const rows = rescaled.operatorStates.map((name) => (name ? this.decodeRow(name, blobs) : undefined));
      const row = redistributeRow(rows, this.def.state, this.def.redistribution ?? 'split', this.rt.subtask, this.rt.parallelism);
      Object.assign(this.state.groups.get(-1)!.get('')!, row);
    }
    // Timers live in the rows and are indexed from them now: only an actor without timers can
    // leave its key groups to be decoded as they are used.
    this.snapshots.restore(snapshot, this.owns, blobs, this.node.keyed && this.def.onTimer === undefined);
    for (const [g, rows] of this.state.groups) {
      if (g < 0) continue;
      for (const [id, row] of rows) {
        const registered = row[TIMERS] as number[] | undefined;
        if (registered) for (const t of registered) this.index(t, id, keyFromId(id));
      }
    }
    const next = this.nextTimer();
    if (next !== undefined) this.rt.wakeAt(next);
  }

  /** An old subtask's non-keyed row, decoded (and its format checked) by the snapshot strategy. */
  private decodeRow(name: string, blobs: ReadonlyMap<string, Uint8Array>): StateRow {
    const scratch = new HeapKeyedState(this.def.state, this.node.maxParallelism, false);
    new SnapshotStrategy(scratch, this.node.uid, this.rt.subtask, this.rt.maxDeltaChain).restore({ keyGroups: {}, operatorState: name }, () => false, blobs);
    return scratch.groups.get(-1)!.get('')!;
  }

  decodeSome(max: number): number {
    return this.state.decodeSome(max);
  }

  private handle(result: unknown): void {
    if (result === undefined) return;
    if (isGenerator(result)) for (const x of result) this.emit(x);
    else this.emit(result);
  }

  process(r: unknown, input: number): void {
    this.counts.in++;
    if (this.node.keyed) {
      const key = this.keys[input]!(r);
      this.state.setCurrentKey(key);
      this.ctx.key = key;
    }
    this.handle(this.def.onMessage(r, this.ctx as never));
  }

  override endInput(): void {
    if (!this.def.onEnd) return;
    this.state.clearCurrentKey();
    this.ctx.key = undefined;
    this.handle(this.def.onEnd(this.ctx as never));
  }

  nextTimer(): number | undefined {
    let min: number | undefined;
    for (const t of this.timers.keys()) if (min === undefined || t < min) min = t;
    return min;
  }

  fireTimers(now: number): void {
    const due = [...this.timers.keys()].filter((t) => t <= now).sort((a, b) => a - b);
    for (const t of due) {
      const bucket = this.timers.get(t)!;
      this.timers.delete(t);
      for (const key of bucket.values()) {
        this.state.setCurrentKey(key);
        this.ctx.key = key;
        this.unregister(t);
        this.handle(this.def.onTimer!(t, this.ctx as never));
      }
    }
  }
}

export { SourceOp };

/** Operator-state blobs a restore reads: this subtask's, or after a rescale every old subtask's. */
function operatorStateNames(snapshot: OperatorSubtaskSnapshot): string[] {
  if (snapshot.rescaledFrom) return snapshot.rescaledFrom.operatorStates.filter((n): n is string => n !== undefined && n !== null);
  return snapshot.operatorState ? [snapshot.operatorState] : [];
}

export function createOperator(node: OperatorNode, rt: ActorRuntimeContext, sink?: SinkWriter): OperatorInstance {
  switch (node.kind) {
    case 'source':
      return new SourceOp(node, rt.subtask);
    case 'map':
      return new MapOp(node);
    case 'filter':
      return new FilterOp(node);
    case 'flatMap':
      return new FlatMapOp(node);
    case 'actor':
      return new ActorOp(node, rt);
    case 'sink':
      return new SinkOp(node, sink!, rt.subtask, rt.fail);
  }
}

/** Sends a record to several collectors (an operator with chained and network outputs). */
export function fanOut(targets: Collector[]): Collector {
  if (targets.length === 1) return targets[0]!;
  return { collect: (r) => { for (const t of targets) t.collect(r); } };
}
