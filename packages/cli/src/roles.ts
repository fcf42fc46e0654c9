import type { Logger } from 'pino';

/**
 * What the role entry points share. Each role lives in its own module (coordinator-role.ts,
 * worker-role.ts, embedded.ts) so that a process loads only its own: a worker does not load the
 * coordinator and its REST server, which would add about 0.1 s to every worker start, and with it
 * to every recovery that waits for a replaced worker.
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
