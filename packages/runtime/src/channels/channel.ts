import type { Frame } from '../frames.js';
import type { EdgePlan } from '../plan.js';

/**
 * One data channel's sending end (sender subtask -> receiver subtask). Frames keep their order.
 * `send` never blocks and never drops: it queues; `ready()` waits while the queue is over its
 * bound, which is how backpressure reaches the sending task. A channel between processes encodes
 * the frame; one inside a process hands the frame itself over.
 */
export interface OutputChannel {
  send(frame: Frame): void;
  ready(): Promise<void>;
  /** Resolves when every queued frame is stored by the transport. */
  flushed(): Promise<void>;
  /** Frames queued and not yet stored (for backpressure metrics). */
  readonly backlog: number;
  close(): Promise<void>;
}

/** Receives frames from every channel of an edge into one receiver subtask. */
export interface InputSubscription {
  stop(): Promise<void>;
}

/** Called for each frame, in per-channel order; its promise is awaited before the next frame. */
export type Deliver = (from: number, frame: Frame) => Promise<void>;

/** The data plane of one job attempt, as a worker sees it. */
export interface ChannelFactory {
  output(edge: EdgePlan, from: number, to: number): OutputChannel;
  /**
   * Subscribe receiver `to` of `edge`. `onError`: the input broke (a frame that does not decode, the
   * consumer gone); the receiving task fails instead of waiting for frames that will not come.
   */
  input(edge: EdgePlan, to: number, deliver: Deliver, onError?: (e: Error) => void): Promise<InputSubscription>;
}

/** Creates and disposes the data plane of job attempts (the coordinator's side). */
export interface DataPlane {
  /** Create what an attempt's channels need (a stream, consumers) before tasks are deployed. */
  prepare(jobId: string, attempt: number, edges: readonly EdgePlan[]): Promise<void>;
  /** The worker side of an attempt. */
  channels(jobId: string, attempt: number): ChannelFactory;
  /** Delete an attempt's data (old attempts' streams). */
  dispose(jobId: string, attempt: number): Promise<void>;
}
