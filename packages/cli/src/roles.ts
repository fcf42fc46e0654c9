import type { Logger } from 'pino';

/**
 * What the role entry points share. Each role lives in its own module (coordinator-role.ts,
 * worker-role.ts, embedded.ts) so that a process loads only its own: a worker does not load the
 * coordinator and its REST server, which delayed every worker's registration by about 60 ms, and
 * with it every recovery that waits for a replaced worker.
 */
export interface ClusterConfig {
  readonly natsUrl: string;
  readonly redisUrl: string;
  readonly clusterId: string;
  readonly log: Logger;
  /**
   * The role can no longer do its job (its actor stopped after an escalation); the process should
   * exit non-zero so a supervisor (cluster up, systemd, Kubernetes) starts a fresh one.
   */
  readonly onFatal?: (error: unknown) => void;
}

export interface Running {
  stop(): Promise<void>;
}

/**
 * The actor system's onEscalate for a role: a top-level actor that stopped leaves a process that
 * looks alive but answers nothing, so say so plainly and hand over to `onFatal`.
 */
export function fatalOnEscalate(role: string, c: Pick<ClusterConfig, 'log' | 'onFatal'>): (actor: string, error: unknown) => void {
  return (actor, error) => {
    c.log.fatal({ err: error, actor }, `the ${role} actor '${actor}' stopped after a failure; exiting with code 1 so a supervisor starts a fresh ${role}`);
    c.onFatal?.(error);
  };
}
