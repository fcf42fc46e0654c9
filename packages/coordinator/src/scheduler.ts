import type { ExecutionPlan, SubtaskRef } from '@weir/runtime';

export interface FreeSlot {
  readonly workerId: string;
  readonly slot: number;
}

export interface SlotAssignment extends FreeSlot {
  readonly subtasks: readonly SubtaskRef[];
}

export type ScheduleResult =
  | { readonly kind: 'scheduled'; readonly assignments: readonly SlotAssignment[] }
  | { readonly kind: 'not-enough-slots'; readonly needed: number; readonly available: number };

/**
 * Slot sharing, as in Flink's default: slot k runs subtask k of every task, so a job needs as
 * many slots as its largest parallelism. Slots are taken round-robin over workers to spread load.
 * Pure: the same input gives the same placement.
 */
export function schedule(plan: ExecutionPlan, free: readonly FreeSlot[]): ScheduleResult {
  const needed = Math.max(...plan.tasks.map((t) => t.parallelism));
  if (free.length < needed) return { kind: 'not-enough-slots', needed, available: free.length };
  const byWorker = new Map<string, FreeSlot[]>();
  for (const s of [...free].sort((a, b) => a.workerId.localeCompare(b.workerId) || a.slot - b.slot)) {
    let l = byWorker.get(s.workerId);
    if (!l) byWorker.set(s.workerId, (l = []));
    l.push(s);
  }
  const spread: FreeSlot[] = [];
  const queues = [...byWorker.values()];
  for (let round = 0; spread.length < needed; round++) {
    for (const q of queues) if (round < q.length && spread.length < needed) spread.push(q[round]!);
  }
  const assignments = spread.map((slot, k) => ({
    ...slot,
    subtasks: plan.tasks.filter((t) => k < t.parallelism).map((t) => ({ task: t.id, subtask: k })),
  }));
  return { kind: 'scheduled', assignments };
}
