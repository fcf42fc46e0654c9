import { setImmediate as setImmediatePromise } from 'node:timers/promises';
import { Supervision, type ActorRef, type ActorSystem } from '@weir/actors';
import { jobArgs, type JobGraph } from '@weir/sdk';
import type { Logger } from 'pino';
import type { ChannelFactory, InputSubscription } from '../channels/channel.js';
import { sinkFactory, sourceFactory } from '../connectors/registry.js';
import type { ConnectorContext, SourceReader } from '../connectors/types.js';
import { FrameKind, type Frame } from '../frames.js';
import type { CompletedCheckpoint, SnapshotStore } from '../snapshots/types.js';
import { BarrierAligner, type AlignerResult, type AlignmentMode, type Barrier } from './barrier-aligner.js';
import { Checkpointer, type CheckpointReport } from './checkpointer.js';
import { receiversOf, sendersOf, type ExecutionPlan, type TaskPlan } from '../plan.js';
import { serializeError, type OperatorCounts, type SerializedError, type TaskState } from '../protocol.js';
import { EdgeWriter } from './edge-writer.js';
import { createOperator, fanOut, SourceOp, type Collector, type OperatorInstance } from './operators.js';

export interface TaskOptions {
  /** Records per frame before a channel buffer is flushed. */
  readonly batchSize: number;
  /** Longest time a record waits in an output buffer (ms). */
  readonly bufferTimeoutMs: number;
  /** Frames a task's mailbox holds before its input consumers wait. */
  readonly mailboxCapacity: number;
}

export const DEFAULT_TASK_OPTIONS: TaskOptions = { batchSize: 512, bufferTimeoutMs: 5, mailboxCapacity: 64 };

export interface TaskSetup {
  readonly jobId: string;
  readonly attempt: number;
  readonly graph: JobGraph;
  readonly plan: ExecutionPlan;
  readonly task: TaskPlan;
  readonly subtask: number;
  readonly args: Readonly<Record<string, string>>;
  readonly channels: ChannelFactory;
  readonly system: ActorSystem;
  readonly log: Logger;
  readonly options: TaskOptions;
  readonly checkpointing: { readonly enabled: boolean; readonly mode: AlignmentMode; readonly maxDeltaChain: number; readonly intervalMs?: number };
  readonly snapshots: SnapshotStore;
  /** The checkpoint to restore from (attempt > 1, or a job started from a checkpoint). */
  readonly restore?: CompletedCheckpoint;
  connectorContext(uid: string): ConnectorContext;
  onCheckpoint(task: Task, report: CheckpointReport): void;
  /** All inputs ended and the task waits for a final checkpoint (its last output committed, its final state taken). */
  onInputsEnded(task: Task): void;
  /** Called on every state change. */
  onState(task: Task, state: TaskState, error?: SerializedError): void;
}

type TaskMessage =
  | { t: 'poll' }
  | { t: 'frame'; input: number; from: number; frame: Frame }
  | { t: 'flush' }
  | { t: 'timers' }
  | { t: 'trigger'; barrier: Barrier; stop: boolean }
  | { t: 'drain' }
  | { t: 'complete'; checkpointId: number }
  | { t: 'decode' }
  | { t: 'prepack' };

/**
 * Key groups restored lazily that one mailbox turn decodes while the task runs: a few milliseconds,
 * so frames and barriers queued meanwhile wait little.
 */
const DECODE_STEP = 2;

/**
 * A task with keyed state packs what changed ahead of the next capture (SnapshotStrategy.prepack)
 * this many times per checkpoint interval, and at most every PREPACK_MIN_PERIOD_MS: the capture,
 * which blocks the task, is left with the keys changed since the last pass (an eighth of the
 * interval at most). More passes would leave less, but a key changed again is packed again.
 */
const PREPACK_PASSES = 8;
const PREPACK_MIN_PERIOD_MS = 100;

/**
 * One subtask of a chain, run as an actor: frames from input channels, source polls, timer and
 * flush ticks all go through its mailbox, so user code runs one message at a time. A full
 * mailbox stops the input consumers: that is backpressure.
 */
export class Task {
  state: TaskState = 'DEPLOYING';
  /** Coordinator requests (trigger, drain) that came before the task ran, in order. */
  private readonly early: (TaskMessage & { t: 'trigger' | 'drain' })[] = [];
  private operators: OperatorInstance[] = [];
  private writers: EdgeWriter[] = [];
  private inputs: InputSubscription[] = [];
  private reader: SourceReader | undefined;
  private ref: ActorRef<TaskMessage> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private prepackTimer: NodeJS.Timeout | undefined;
  private prepackPending = false;
  private timerWake: NodeJS.Timeout | undefined;
  private timerWakeAt = Infinity;
  private flushPending = false;
  /** Input channels (`${input}/${from}`) and the ones that ended. */
  private readonly channelIds: string[] = [];
  private endedChannels = new Set<string>();
  private aligner: BarrierAligner | undefined;
  /** Frames of channels held back during alignment, in arrival order per channel. */
  private readonly held = new Map<string, Frame[]>();
  private draining = false;
  private checkpointer: Checkpointer | undefined;
  /** Every input ended (or the source is exhausted). */
  private inputsEnded = false;
  /** The first checkpoint taken after the inputs ended: once it completes, the task may finish. */
  private finalCheckpoint: number | undefined;
  private waitingForFinalCheckpoint = false;
  /** Stop-with-savepoint: the source reads nothing after the savepoint's barrier. */
  private suspended = false;
  /** When the restore began (performance.now()): the state decoded log line counts from it. */
  private restoreStarted = 0;
  /** Stop-with-savepoint with drain: end the input, fire timers, and finish only after the savepoint. */
  private drainRequested = false;
  private lastPerformed = 0;
  readonly name: string;
  readonly log: Logger;

  constructor(private readonly s: TaskSetup) {
    this.name = `task-${s.jobId}-${s.attempt}-${s.task.id}-${s.subtask}`;
    this.log = s.log.child({ task: s.task.name, subtask: s.subtask });
  }

  get id(): { task: number; subtask: number } {
    return { task: this.s.task.id, subtask: this.s.subtask };
  }

  counts(): Record<string, OperatorCounts> {
    const out: Record<string, OperatorCounts> = {};
    for (const op of this.operators) out[op.node.uid] = { in: op.counts.in, out: op.counts.out };
    return out;
  }

  /** Open connectors, wire the chain and channels, subscribe inputs, start. */
  async start(): Promise<void> {
    const { graph, task, subtask, plan } = this.s;
    const byNode = new Map<number, OperatorInstance>();
    const rt = {
      args: jobArgs(this.s.args),
      subtask,
      parallelism: task.parallelism,
      log: this.log,
      maxDeltaChain: this.s.checkpointing.maxDeltaChain,
      wakeAt: (t: number) => this.scheduleTimerWake(t),
      fail: (e: unknown) => void this.fail(e),
    };
    // Restoring a large state takes a while: the coordinator (and whoever watches) sees it.
    this.setState('INITIALIZING');
    try {
      for (const id of task.nodes) {
        const node = graph.nodes[id]!;
        const sink = node.kind === 'sink' ? await sinkFactory(node.sink!.type)(node.sink!.options, this.s.connectorContext(node.uid)) : undefined;
        const op = createOperator(node, rt, sink);
        byNode.set(id, op);
        this.operators.push(op);
      }
      this.checkpointer = new Checkpointer({
        jobId: this.s.jobId,
        attempt: this.s.attempt,
        subtask,
        store: this.s.snapshots,
        operators: this.operators,
        writers: this.writers,
        log: this.log,
        report: (r) => this.s.onCheckpoint(this, r),
        fail: (e) => void this.fail(e),
      });
      if (this.s.restore) {
        this.restoreStarted = performance.now();
        await this.checkpointer.restore(this.s.restore);
      }
      const head = graph.nodes[task.head]!;
      if (head.kind === 'source') {
        const sourceOp = this.operators[0] as SourceOp;
        // `finished` names old subtask indexes: after a rescale they mean other shares.
        const restored = this.s.restore && Object.hasOwn(this.s.restore.operators, head.uid) ? this.s.restore.operators[head.uid] : undefined;
        const sameParallelism = restored?.parallelism === task.parallelism;
        if (sameParallelism && this.s.restore?.finished.includes(`${head.uid}/${subtask}`)) {
          // It had read all its input before the checkpoint: do not read it again.
          const position = sourceOp.restoredPosition;
          this.reader = { poll: async () => null, position: () => position, close: async () => {} };
        } else {
          this.reader = await sourceFactory(head.source!.type)(head.source!.options, this.s.connectorContext(head.uid), sourceOp.restoredPosition);
        }
        sourceOp.reader = this.reader;
      }
      // Wire outputs: chained successors get direct calls, network edges get writers.
      for (const id of task.nodes) {
        const targets: Collector[] = [];
        for (const e of plan.edges) {
          if (e.fromNode !== id) continue;
          if (e.chained) {
            const down = byNode.get(e.toNode)!;
            targets.push({ collect: (r) => down.process(r, e.inputIndex) });
          } else {
            const to = graph.nodes[e.toNode]!;
            const channels = receiversOf(e, subtask).map((r) => this.s.channels.output(e, subtask, r));
            const w = new EdgeWriter(e, channels, this.s.options.batchSize, to.inputs[e.inputIndex]!.key, to.maxParallelism);
            this.writers.push(w);
            targets.push(w);
          }
        }
        byNode.get(id)!.out = fanOut(targets);
      }
      this.ref = this.s.system.spawn<TaskMessage>(this.name, {
        create: () => ({ receive: (m: TaskMessage) => this.receive(m) }),
        mailboxCapacity: this.s.options.mailboxCapacity,
        overflow: 'backpressure',
        supervisor: Supervision.stop(),
      });
      for (const edge of task.inputs) for (const from of sendersOf(edge, subtask)) this.channelIds.push(`${edge.inputIndex}/${from}`);
      if (this.channelIds.length > 0) this.aligner = new BarrierAligner(this.channelIds, this.s.checkpointing.mode);
      this.flushTimer = setInterval(() => {
        if (this.flushPending || this.state !== 'RUNNING') return;
        this.flushPending = true;
        this.ref?.tell({ t: 'flush' });
      }, this.s.options.bufferTimeoutMs);
      if (this.s.checkpointing.enabled && this.operators.some((op) => op.prepackState)) {
        this.prepackTimer = setInterval(() => {
          if (this.prepackPending || this.state !== 'RUNNING') return;
          this.prepackPending = true;
          this.ref?.tell({ t: 'prepack' });
        }, Math.max(PREPACK_MIN_PERIOD_MS, (this.s.checkpointing.intervalMs ?? 1000) / PREPACK_PASSES));
      }
      // Canceled (or failed) while it was initializing: close what was opened since, and never run.
      if (this.state !== 'INITIALIZING') return await this.closeAll();
      // RUNNING before the inputs: the actor drops messages in any other state, and a local
      // channel delivers its queued frames the moment it is subscribed.
      this.setState('RUNNING');
      for (const edge of task.inputs) {
        const input = edge.inputIndex;
        const ref = this.ref;
        this.inputs.push(await this.s.channels.input(edge, subtask, (from, frame) => ref.send({ t: 'frame', input, from, frame }), (e) => void this.fail(e)));
      }
      // Triggers and drains that came while the task was deploying or initializing, first: a source
      // barrier then holds the restored position, before any record is read.
      for (const m of this.early.splice(0)) this.ref.tell(m);
      if (this.reader) this.ref.tell({ t: 'poll' });
      // Restored key groups left undecoded are decoded between messages; a record that needs one first decodes it at once.
      // (Records may decode them all first: the message still comes, and logs that all are decoded.)
      if (this.s.restore && this.operators.some((op) => op.decodeSome)) this.ref.tell({ t: 'decode' });
    } catch (e) {
      await this.fail(e);
    }
  }

  private async receive(m: TaskMessage): Promise<void> {
    if (this.state !== 'RUNNING') return;
    try {
      switch (m.t) {
        case 'frame':
          return await this.onFrame(m.input, m.from, m.frame);
        case 'poll':
          return await this.onPoll();
        case 'flush':
          this.flushPending = false;
          for (const w of this.writers) w.flushAll();
          return;
        case 'timers':
          this.timerWakeAt = Infinity;
          for (const op of this.operators) op.fireTimers?.(Date.now());
          this.rescheduleTimers();
          return await this.afterBatch();
        case 'trigger':
          // Sources (between two polls, at a batch boundary) and tasks whose inputs ended.
          if (m.barrier.id > this.lastPerformed) this.perform(m.barrier, 0, Date.now());
          // The savepoint of a stop holds the last state: nothing may be read after its barrier.
          if (m.stop && this.reader) this.suspended = true;
          return;
        case 'drain':
          this.drainRequested = true;
          return;
        case 'prepack':
          this.prepackPending = false;
          for (const op of this.operators) op.prepackState?.();
          return;
        case 'decode': {
          let left = 0;
          for (const op of this.operators) left += op.decodeSome?.(DECODE_STEP) ?? 0;
          if (left > 0) this.ref!.tell({ t: 'decode' });
          else this.log.info({ ms: Math.round(performance.now() - this.restoreStarted) }, 'state decoded');
          return;
        }
        case 'complete':
          if (!this.waitingForFinalCheckpoint) return;
          if (this.finalCheckpoint !== undefined && m.checkpointId >= this.finalCheckpoint) return await this.complete();
          // A checkpoint this task took before its input ended: it still waits. Say so again, or
          // the coordinator (which started none while this one ran) waits for the next interval.
          this.s.onInputsEnded(this);
          return;
      }
    } catch (e) {
      await this.fail(e);
    }
  }

  private async onPoll(): Promise<void> {
    if (this.suspended) return;
    if (this.drainRequested) return this.finishInput();
    const batch = await this.reader!.poll(this.s.options.batchSize);
    if (this.state !== 'RUNNING') return;
    if (batch === null) return this.finishInput();
    const head = this.operators[0]!;
    for (const r of batch) head.process(r, 0);
    await this.afterBatch();
    this.ref!.tell({ t: 'poll' });
  }

  private async onFrame(input: number, from: number, frame: Frame): Promise<void> {
    const channel = `${input}/${from}`;
    const queue = this.held.get(channel);
    if (queue && queue.length > 0) return void queue.push(frame);
    if (this.aligner?.isBlocked(channel)) {
      if (queue) queue.push(frame);
      else this.held.set(channel, [frame]);
      return;
    }
    await this.processFrame(channel, input, frame);
  }

  private async processFrame(channel: string, input: number, frame: Frame): Promise<void> {
    switch (frame.kind) {
      case FrameKind.Records: {
        const head = this.operators[0]!;
        for (const r of frame.records) head.process(r, input);
        return await this.afterBatch();
      }
      case FrameKind.Barrier:
        return await this.onAligner(this.aligner!.onBarrier(channel, frame.barrier, Date.now()));
      case FrameKind.End:
        // The drain travels with the end of input, so it cannot arrive after it.
        if (frame.drain) this.drainRequested = true;
        this.endedChannels.add(channel);
        // A snapshot the last End completes already covers all input.
        if (this.endedChannels.size === this.channelIds.length) this.inputsEnded = true;
        await this.onAligner(this.aligner!.onEndOfChannel(channel, Date.now()));
        if (this.endedChannels.size === this.channelIds.length && this.state === 'RUNNING') await this.finishInput();
    }
  }

  private async onAligner(r: AlignerResult): Promise<void> {
    if (r.kind === 'none') return;
    if (r.kind === 'abort') {
      this.s.onCheckpoint(this, { kind: 'decline', checkpointId: r.barrierId, reason: 'a newer barrier overtook it (aborted upstream)' });
      await this.drainHeld();
      return this.onAligner(r.then);
    }
    // The capture below blocks this worker's event loop. Let its I/O run once first, so that frames
    // other tasks here have queued behind publish acknowledgements (their own barriers) go out,
    // and subtasks on other workers do not wait for this capture to align.
    await setImmediatePromise();
    if (this.state !== 'RUNNING') return;
    this.perform(r.barrier, r.alignmentMs, r.firstBarrierAt);
    await this.drainHeld();
  }

  /** `reachedAt`: when the barrier reached this task (its trigger, or its first barrier frame). */
  private perform(barrier: Barrier, alignmentMs: number, reachedAt: number): void {
    this.lastPerformed = Math.max(this.lastPerformed, barrier.id);
    // A drain ends with the savepoint; a periodic checkpoint in between does not end the task. A
    // detached savepoint never completes as a checkpoint, so no task waits for one.
    if (this.inputsEnded && barrier.savepoint === undefined && (!this.drainRequested || barrier.full === true)) this.finalCheckpoint ??= barrier.id;
    // Against the coordinator's clock, as Flink's start delay: skew between machines shows in it.
    this.checkpointer!.perform(barrier, alignmentMs, Math.max(0, reachedAt - barrier.timestamp));
  }

  /** Replay frames held back during alignment, until none is left or a channel blocks again. */
  private async drainHeld(): Promise<void> {
    if (this.draining) return; // the outer drain goes on
    this.draining = true;
    try {
      let progress = true;
      while (progress && this.state === 'RUNNING') {
        progress = false;
        for (const [channel, queue] of this.held) {
          while (queue.length > 0 && !this.aligner!.isBlocked(channel) && this.state === 'RUNNING') {
            await this.processFrame(channel, Number(channel.slice(0, channel.indexOf('/'))), queue.shift()!);
            progress = true;
          }
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private async afterBatch(): Promise<void> {
    for (const op of this.operators) {
      const p = op.afterBatch?.();
      if (p) await p;
    }
    for (const w of this.writers) await w.ready();
  }

  /**
   * All inputs ended: let operators emit their last records and end the outputs. With checkpoints
   * on, the task then waits for a checkpoint taken after this point to complete (Flink's final
   * checkpoint, FLIP-147): its last output is committed under a checkpoint (a failure elsewhere
   * cannot replay it), and the state later checkpoints carry for it once it has finished is its
   * final state. A task that finished at once left its state of the last checkpoint before its
   * end: a source's position from before it read its last records, which a rescale or a resume
   * from a savepoint handed to the new subtasks to read again. Without checkpoints it finishes at once.
   */
  private async finishInput(): Promise<void> {
    if (this.inputsEnded && this.waitingForFinalCheckpoint) return;
    this.inputsEnded = true;
    // Draining for a stop: pending timers fire now, as in Flink where the drain's final watermark fires them.
    if (this.drainRequested) {
      for (const op of this.operators) op.fireTimers?.(Number.MAX_SAFE_INTEGER);
      this.timerWakeAt = Infinity;
      clearTimeout(this.timerWake);
    }
    for (const op of this.operators) op.endInput();
    await this.afterBatch();
    for (const w of this.writers) w.end(this.drainRequested);
    for (const w of this.writers) await w.flushed();
    if (this.drainRequested || this.s.checkpointing.enabled) {
      this.waitingForFinalCheckpoint = true;
      this.s.onInputsEnded(this);
      return;
    }
    await this.complete();
  }

  private async complete(): Promise<void> {
    this.waitingForFinalCheckpoint = false;
    await this.checkpointer?.settled();
    for (const op of this.operators) await op.finish?.();
    await this.release();
    for (const op of this.operators) await op.close();
    this.setState('FINISHED');
  }

  private scheduleTimerWake(time: number): void {
    if (time >= this.timerWakeAt) return;
    clearTimeout(this.timerWake);
    this.timerWakeAt = time;
    this.timerWake = setTimeout(() => this.ref?.tell({ t: 'timers' }), Math.max(0, time - Date.now()));
  }

  private rescheduleTimers(): void {
    for (const op of this.operators) {
      const t = op.nextTimer?.();
      if (t !== undefined) this.scheduleTimerWake(t);
    }
  }

  /** Stop inputs, timers and the actor; idempotent. */
  private async release(): Promise<void> {
    clearInterval(this.flushTimer);
    clearInterval(this.prepackTimer);
    clearTimeout(this.timerWake);
    const ref = this.ref;
    this.ref = undefined;
    if (ref) void this.s.system.stop(ref).catch(() => undefined);
    // An input loop may be parked on a full mailbox; do not let it hold the task open.
    const inputs = this.inputs.splice(0);
    const stops = Promise.all(inputs.map((i) => i.stop().catch(() => undefined)));
    await Promise.race([stops, new Promise((r) => setTimeout(r, 2000).unref())]);
    const reader = this.reader;
    this.reader = undefined;
    if (reader) await Promise.race([reader.close().catch((e) => this.log.warn({ err: e }, 'source close failed')), new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  /** Coordinator: start checkpoint `barrier` (source tasks); `stop`: read nothing after it (stop-with-savepoint). */
  triggerCheckpoint(barrier: Barrier, stop = false): void {
    this.request({ t: 'trigger', barrier, stop });
  }

  /** Coordinator: stop-with-savepoint with drain. */
  drain(): void {
    this.request({ t: 'drain' });
  }

  /**
   * A request of the coordinator: to the mailbox once running, kept until then while the task
   * deploys or restores. Dropping it left the checkpoint waiting for this task until its timeout,
   * which fails the job (and a barrier skipped on one path only confused the alignment downstream).
   */
  private request(m: TaskMessage & { t: 'trigger' | 'drain' }): void {
    if (this.state === 'RUNNING') this.ref?.tell(m);
    else if (this.state === 'DEPLOYING' || this.state === 'INITIALIZING') this.early.push(m);
  }

  /** Coordinator: checkpoint `checkpointId` completed. */
  checkpointComplete(checkpointId: number): void {
    if (this.state !== 'RUNNING') return;
    // Commits start now rather than behind the frames queued in the mailbox (they only read the
    // pending transactions); finishing after the final checkpoint goes through the mailbox.
    this.checkpointer?.notifyComplete(checkpointId).catch((e) => void this.fail(e));
    this.ref?.tell({ t: 'complete', checkpointId });
  }

  get isSource(): boolean {
    return this.reader !== undefined;
  }

  async cancel(): Promise<void> {
    if (this.state === 'FINISHED' || this.state === 'CANCELED' || this.state === 'FAILED') return;
    this.setState('CANCELING');
    // A sink's close waits for the commits a completed checkpoint started (SinkOp.close): a stop
    // cancels the tasks right after its savepoint completed, and nobody else commits that last transaction.
    await this.closeAll();
    this.setState('CANCELED');
  }

  private async fail(e: unknown): Promise<void> {
    if (this.state === 'FAILED' || this.state === 'CANCELED') return;
    this.log.error({ err: e }, 'task failed');
    this.state = 'FAILED';
    await this.closeAll();
    this.s.onState(this, 'FAILED', serializeError(e));
  }

  /** Output channels, inputs, source and operators (sinks' connections); again after more were opened. */
  private async closeAll(): Promise<void> {
    for (const w of this.writers) await w.close().catch(() => undefined);
    await this.release();
    for (const op of this.operators) await op.close().catch(() => undefined);
  }

  private setState(state: TaskState): void {
    this.state = state;
    this.log.debug({ state }, 'task state');
    this.s.onState(this, state);
  }
}
