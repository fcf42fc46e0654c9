import type { Logger } from 'pino';
import { connectNats } from './nats.js';
import { connectRedis } from './redis.js';

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

/** How long one resource may take to close before the next one is closed anyway. */
const CLOSE_WAIT_MS = 5000;

/**
 * What a role opened, closed in reverse order: on stop, and when its start fails half-way (an open
 * NATS or Redis connection would keep the process alive after it reported the error).
 */
export class Resources {
  private readonly closers: (() => unknown)[] = [];
  private closing: Promise<void> | undefined;

  add(close: () => unknown): void {
    this.closers.push(close);
  }

  closeAll(): Promise<void> {
    this.closing ??= (async () => {
      for (const close of this.closers.reverse()) {
        let timer: NodeJS.Timeout | undefined;
        const bounded = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)));
        await Promise.race([Promise.resolve().then(close).catch(() => undefined), bounded]);
        clearTimeout(timer);
      }
    })();
    return this.closing;
  }
}

/** A role's NATS and Redis connections (named `name` on both servers), each closed again by `res`. */
export async function connectRole(c: ClusterConfig, res: Resources, name: string) {
  const nc = await connectNats(c.natsUrl, name);
  res.add(() => nc.drain());
  const redis = await connectRedis(c.redisUrl, name);
  res.add(() => redis.disconnect());
  return { nc, redis };
}
