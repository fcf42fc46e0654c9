import type { EdgePlan } from '../plan.js';
import type { ChannelFactory, DataPlane, Deliver, InputSubscription, OutputChannel } from './channel.js';

const QUEUE_BOUND = 16;

/** A bounded queue of frames of one (edge, receiver), fed by all its senders. */
class Gate {
  readonly frames: { from: number; frame: Uint8Array }[] = [];
  private waiters: (() => void)[] = [];
  private wake: (() => void) | undefined;

  push(from: number, frame: Uint8Array): void {
    this.frames.push({ from, frame });
    this.wake?.();
  }
  /** Senders wait here while the receiver is behind. */
  spaceAvailable(): Promise<void> {
    if (this.frames.length < QUEUE_BOUND) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }
  take(): Promise<{ from: number; frame: Uint8Array }> | { from: number; frame: Uint8Array } {
    const next = this.frames.shift();
    if (next) {
      if (this.frames.length < QUEUE_BOUND) for (const w of this.waiters.splice(0)) w();
      return next;
    }
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve(this.take() as { from: number; frame: Uint8Array });
      };
    });
  }
}

/** The embedded data plane: channels are in-memory queues inside one process. */
export class InProcessDataPlane implements DataPlane {
  private readonly gates = new Map<string, Gate>();

  private gate(jobId: string, attempt: number, edge: number, to: number): Gate {
    const k = `${jobId}/${attempt}/${edge}/${to}`;
    let g = this.gates.get(k);
    if (!g) this.gates.set(k, (g = new Gate()));
    return g;
  }

  async prepare(): Promise<void> {}

  channels(jobId: string, attempt: number): ChannelFactory {
    return {
      output: (edge: EdgePlan, from: number, to: number): OutputChannel => {
        const gate = this.gate(jobId, attempt, edge.id, to);
        return {
          send: (frame) => gate.push(from, frame),
          ready: () => gate.spaceAvailable(),
          flushed: async () => {},
          get backlog() {
            return gate.frames.length;
          },
          close: async () => {},
        };
      },
      input: async (edge: EdgePlan, to: number, deliver: Deliver): Promise<InputSubscription> => {
        const gate = this.gate(jobId, attempt, edge.id, to);
        let stopped = false;
        const loop = (async () => {
          while (!stopped) {
            const next = await gate.take();
            if (stopped) break;
            await deliver(next.from, next.frame);
          }
        })();
        return {
          stop: async () => {
            stopped = true;
            gate.push(-1, new Uint8Array()); // wake the loop
            await loop;
          },
        };
      },
    };
  }

  async dispose(jobId: string, attempt: number): Promise<void> {
    const prefix = `${jobId}/${attempt}/`;
    for (const k of this.gates.keys()) if (k.startsWith(prefix)) this.gates.delete(k);
  }
}
