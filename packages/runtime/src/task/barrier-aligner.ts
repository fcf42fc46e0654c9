/**
 * Barrier alignment for one task, pure: channels in, decisions out (Flink's
 * CheckpointBarrierHandler). The task holds back frames of blocked channels and replays them
 * once the aligner releases the channels.
 */

export interface Barrier {
  readonly id: number;
  /** Trigger time, ms since epoch. */
  readonly timestamp: number;
  /** A savepoint's barrier: every operator captures its whole state (full bases), not a delta. */
  readonly full?: boolean;
  /**
   * A detached savepoint's barrier (with `full`): the capture goes straight into savepoint
   * `savepoint` and the job's own checkpoints do not see it (Flink's savepoint target location).
   */
  readonly savepoint?: string;
}

export type AlignerResult =
  | { readonly kind: 'none' }
  /**
   * Barrier `id` arrived on every open channel: snapshot, forward the barrier, then replay held
   * frames. `firstBarrierAt`: the time (as passed in) its first barrier arrived.
   */
  | { readonly kind: 'snapshot'; readonly barrier: Barrier; readonly alignmentMs: number; readonly firstBarrierAt: number }
  /** A newer barrier overtook the one being aligned (the older checkpoint was aborted upstream): decline it. */
  | { readonly kind: 'abort'; readonly barrierId: number; readonly then: AlignerResult };

const NONE: AlignerResult = { kind: 'none' };

export type AlignmentMode = 'exactly-once' | 'at-least-once';

export class BarrierAligner {
  private readonly open: Set<string>;
  /** exactly-once: the checkpoint being aligned and the channels that delivered it (blocked). */
  private current: { barrier: Barrier; seen: Set<string>; startedAt: number } | undefined;
  /** at-least-once: barriers seen per checkpoint id; nothing is blocked. */
  private readonly tracked = new Map<number, { barrier: Barrier; seen: Set<string>; startedAt: number }>();
  /** Highest id snapshotted or aborted; older barriers are stale. */
  private done = 0;

  constructor(
    channels: readonly string[],
    private readonly mode: AlignmentMode,
  ) {
    this.open = new Set(channels);
  }

  /** True while frames of this channel must be held back. */
  isBlocked(channel: string): boolean {
    return this.current !== undefined && this.current.seen.has(channel);
  }

  /** Id of the checkpoint being aligned, if any. */
  get aligning(): number | undefined {
    return this.current?.barrier.id;
  }

  onBarrier(channel: string, barrier: Barrier, now: number): AlignerResult {
    if (barrier.id <= this.done || !this.open.has(channel)) return NONE;
    return this.mode === 'exactly-once' ? this.aligned(channel, barrier, now) : this.tracking(channel, barrier, now);
  }

  /** A channel ended: it will bring no more barriers, so nobody waits for it. */
  onEndOfChannel(channel: string, now: number): AlignerResult {
    if (!this.open.delete(channel)) return NONE;
    if (this.mode === 'exactly-once') {
      if (this.current) {
        this.current.seen.delete(channel);
        return this.maybeComplete(now);
      }
      return NONE;
    }
    for (const t of this.tracked.values()) t.seen.delete(channel);
    return this.maybeCompleteTracked(now);
  }

  /** The task gave up checkpoint `id` (e.g. its snapshot failed): release everything. */
  abort(id: number): void {
    if (this.current?.barrier.id === id) this.current = undefined;
    this.tracked.delete(id);
    this.done = Math.max(this.done, id);
  }

  private aligned(channel: string, barrier: Barrier, now: number): AlignerResult {
    const cur = this.current;
    if (cur && barrier.id > cur.barrier.id) {
      // Only an unblocked channel can deliver a newer barrier: it skipped cur, which was aborted upstream.
      const abortedId = cur.barrier.id;
      this.current = undefined;
      this.done = abortedId;
      return { kind: 'abort', barrierId: abortedId, then: this.aligned(channel, barrier, now) };
    }
    // An older barrier on a channel not yet blocked: its checkpoint was skipped on another path and
    // cannot complete here. It is no barrier of `cur`: that channel's records up to `cur`'s barrier
    // still belong before the snapshot.
    if (cur && barrier.id < cur.barrier.id) return NONE;
    if (!cur) this.current = { barrier, seen: new Set(), startedAt: now };
    this.current!.seen.add(channel);
    return this.maybeComplete(now);
  }

  private maybeComplete(now: number): AlignerResult {
    const cur = this.current!;
    for (const c of this.open) if (!cur.seen.has(c)) return NONE;
    this.current = undefined;
    this.done = cur.barrier.id;
    return { kind: 'snapshot', barrier: cur.barrier, alignmentMs: now - cur.startedAt, firstBarrierAt: cur.startedAt };
  }

  private tracking(channel: string, barrier: Barrier, now: number): AlignerResult {
    let t = this.tracked.get(barrier.id);
    if (!t) this.tracked.set(barrier.id, (t = { barrier, seen: new Set(), startedAt: now }));
    t.seen.add(channel);
    return this.maybeCompleteTracked(now);
  }

  private maybeCompleteTracked(now: number): AlignerResult {
    let complete: { barrier: Barrier; startedAt: number } | undefined;
    for (const t of this.tracked.values()) {
      if ([...this.open].every((c) => t.seen.has(c)) && (!complete || t.barrier.id > complete.barrier.id)) complete = t;
    }
    if (!complete) return NONE;
    // Older checkpoints still tracked can no longer complete here in order: drop them.
    for (const id of [...this.tracked.keys()]) if (id <= complete.barrier.id) this.tracked.delete(id);
    this.done = complete.barrier.id;
    return { kind: 'snapshot', barrier: complete.barrier, alignmentMs: now - complete.startedAt, firstBarrierAt: complete.startedAt };
  }
}
