/** Delivers a message to a local actor; returns its reply (for asks). */
export type Deliver = (message: unknown, isAsk: boolean) => Promise<unknown>;

/** How actor systems address actors by name, in one process or across processes. */
export interface Transport {
  register(name: string, deliver: Deliver): Promise<void> | void;
  unregister(name: string): Promise<void> | void;
  tell(name: string, message: unknown): void;
  ask(name: string, message: unknown, timeoutMs: number): Promise<unknown>;
  close(): Promise<void>;
}
