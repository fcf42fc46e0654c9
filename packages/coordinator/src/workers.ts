import type { RegisterWorker } from '@weir/runtime';

export interface WorkerInfo {
  readonly workerId: string;
  readonly host: string;
  readonly pid: number;
  readonly slots: number;
  readonly registeredAt: number;
  lastHeartbeat: number;
  /** Since when probes have found no subscriber for it on NATS (undefined: it answered last). */
  goneSince?: number;
  /** slot -> job id using it */
  readonly used: Map<number, string>;
}

/** Registered workers and their liveness (pure bookkeeping; time is passed in). */
export class WorkerRegistry {
  readonly workers = new Map<string, WorkerInfo>();

  register(m: RegisterWorker, now: number): WorkerInfo {
    const w: WorkerInfo = { workerId: m.workerId, host: m.host, pid: m.pid, slots: m.slots, registeredAt: now, lastHeartbeat: now, used: new Map() };
    this.workers.set(m.workerId, w);
    return w;
  }

  heartbeat(workerId: string, now: number): boolean {
    const w = this.workers.get(workerId);
    if (!w) return false;
    w.lastHeartbeat = now;
    return true;
  }

  /** Workers whose last heartbeat is older than the timeout; they are removed. */
  expire(now: number, timeoutMs: number): WorkerInfo[] {
    const lost: WorkerInfo[] = [];
    for (const w of this.workers.values()) {
      if (now - w.lastHeartbeat > timeoutMs) {
        lost.push(w);
        this.workers.delete(w.workerId);
      }
    }
    return lost;
  }

  /**
   * A probe of `w` found it `gone` (no subscriber on NATS) or answered. True, and `w` is removed,
   * once it has been gone for at least `graceMs`: one miss may be a reconnect, a second one a
   * grace later is a process that exited. Ignored if `w` is no longer the registered worker (it
   * registered again meanwhile).
   */
  probed(w: WorkerInfo, gone: boolean, now: number, graceMs: number): boolean {
    if (this.workers.get(w.workerId) !== w) return false;
    if (!gone) {
      w.goneSince = undefined;
      return false;
    }
    w.goneSince ??= now;
    if (now - w.goneSince < graceMs) return false;
    this.workers.delete(w.workerId);
    return true;
  }

  freeSlots(): { workerId: string; slot: number }[] {
    const out: { workerId: string; slot: number }[] = [];
    for (const w of this.workers.values()) for (let s = 0; s < w.slots; s++) if (!w.used.has(s)) out.push({ workerId: w.workerId, slot: s });
    return out;
  }

  release(jobId: string): void {
    for (const w of this.workers.values()) for (const [s, j] of w.used) if (j === jobId) w.used.delete(s);
  }
}
