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
}

export interface Running {
  stop(): Promise<void>;
}
