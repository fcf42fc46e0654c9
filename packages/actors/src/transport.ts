/** Delivers a message to a local actor; resolves to its reply (for asks) or rejects. */
export type Deliver = (message: unknown, isAsk: boolean) => Promise<unknown>;

/**
 * How actor systems address actors by name, in one process or across processes. The system
 * registers each local actor so that other systems on the same transport can reach it.
 */
export interface Transport {
  /** Start delivering messages for `name` to `deliver`. deliver returns the reply value (for asks) or throws. */
  register(name: string, deliver: Deliver): Promise<void> | void;
  unregister(name: string): Promise<void> | void;
  /** Fire and forget: delivery failures are not reported to the sender. */
  tell(name: string, message: unknown): void;
  /** Rejects with AskTimeoutError, ActorNotFoundError, or the receiver's error. */
  ask(name: string, message: unknown, timeoutMs: number): Promise<unknown>;
  close(): Promise<void>;
}
