import type { EdgePlan } from '../plan.js';
import { sendersOf } from '../plan.js';
import type { ChannelFactory, DataPlane } from './channel.js';
import { LocalChannels } from './local.js';

/**
 * The embedded data plane: every channel is a local channel inside this one process. Each queues
 * at most `queueBound` frames (default 4): here every queued record is a live object on the one
 * heap, which each young-generation GC copies, so the receiver's mailbox is buffer enough.
 */
export class InProcessDataPlane implements DataPlane {
  private readonly attempts = new Map<string, LocalChannels>();

  constructor(private readonly queueBound = 4) {}

  private local(jobId: string, attempt: number): LocalChannels {
    const k = `${jobId}/${attempt}`;
    let l = this.attempts.get(k);
    if (!l) this.attempts.set(k, (l = new LocalChannels(this.queueBound)));
    return l;
  }

  async prepare(): Promise<void> {}

  channels(jobId: string, attempt: number): ChannelFactory {
    const local = this.local(jobId, attempt);
    return {
      output: (edge: EdgePlan, from: number, to: number) => local.channel(edge.id, from, to),
      input: async (edge, to, deliver) => local.input(edge.id, to, sendersOf(edge, to), deliver),
    };
  }

  async dispose(jobId: string, attempt: number): Promise<void> {
    const k = `${jobId}/${attempt}`;
    await this.attempts.get(k)?.close();
    this.attempts.delete(k);
  }
}
