/**
 * Worker liveness through NATS: a worker whose process is gone has no subscriber left, and NATS
 * answers a request to it with "no responders" at once. Much sooner than a heartbeat timeout, and
 * needs no supervisor to start the worker again.
 */
import { ActorNotFoundError, type ActorSystem } from '@weir/actors';
import { subjects, type WorkerMessage } from '@weir/runtime';
import { WeirError } from '@weir/sdk';
import type { Logger } from 'pino';
import type { WorkerInfo, WorkerRegistry } from './workers.js';

export interface WorkerProbeSetup {
  readonly system: ActorSystem;
  readonly workers: WorkerRegistry;
  readonly log: Logger;
  readonly now: () => number;
  /** A worker gone for this long is lost (one miss may be a reconnect). */
  readonly graceMs: number;
  /** `w` is lost: fail what ran on it. */
  lost(w: WorkerInfo, message: string, now: number): Promise<void>;
}

export class WorkerProbe {
  /** Workers with a probe in flight (one at a time each). */
  private readonly probing = new Set<WorkerInfo>();

  constructor(private readonly s: WorkerProbeSetup) {}

  /** Probes every registered worker (the coordinator's tick). */
  probeAll(): void {
    for (const w of this.s.workers.workers.values()) void this.probe(w);
  }

  /**
   * Asks worker `w` for its status. "No responders": its process exited (kill -9 included) or lost
   * its connection; gone for the grace, it is lost. A slow answer or a timeout proves nothing:
   * heartbeats cover a worker that is connected but stuck.
   */
  private async probe(w: WorkerInfo): Promise<void> {
    if (this.probing.has(w)) return;
    this.probing.add(w);
    let gone: boolean;
    try {
      await this.s.system.ref<WorkerMessage>(subjects.worker(w.workerId)).ask({ type: 'status' }, { timeoutMs: 2_000 });
      gone = false;
    } catch (e) {
      if (!(e instanceof ActorNotFoundError)) return;
      gone = true;
    } finally {
      this.probing.delete(w);
    }
    const now = this.s.now();
    if (this.s.workers.probed(w, gone, now, this.s.graceMs)) {
      await this.s.lost(w, `worker ${w.workerId} (pid ${w.pid} on ${w.host}) is gone: NATS has had no subscriber for it for ${this.s.graceMs} ms (its process exited or lost its connection)`, now);
    }
  }

  /**
   * An ask to worker `workerId` (a deployment) found no subscriber: it is removed, so that the next
   * attempt is scheduled without it. The error to fail the deployment with.
   */
  goneAt(workerId: string, e: unknown): unknown {
    if (!(e instanceof ActorNotFoundError)) return e;
    const w = this.s.workers.workers.get(workerId);
    if (w) {
      this.s.workers.workers.delete(workerId);
      this.s.log.warn({ worker: workerId, workerPid: w.pid }, 'worker lost');
    }
    return new WeirError('WEIR_WORKER_LOST', `worker ${workerId} is gone: NATS has no subscriber for it (its process exited or lost its connection); the next attempt is scheduled without it`);
  }
}
