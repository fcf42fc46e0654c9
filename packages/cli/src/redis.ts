import { WeirError } from '@weir/sdk';
import { Redis } from 'ioredis';

/**
 * A Redis connection for the snapshot store. Commands fail after a few retries instead of
 * queueing forever, so a Redis outage fails checkpoints (and shows) rather than hanging them.
 */
export async function connectRedis(url: string, name: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, connectionName: name, retryStrategy: (n) => Math.min(n * 200, 2000) });
  // ioredis reports connection trouble as 'error' events; without a listener Node would crash (and
  // a refused first connect printed '[ioredis] Unhandled error event' beside the typed error).
  let lastError: Error | undefined;
  redis.on('error', (e: Error) => (lastError = e));
  try {
    await redis.connect();
  } catch (e) {
    redis.disconnect();
    // The event's error says why (ECONNREFUSED...); connect()'s own is only 'Connection is closed.'.
    throw new WeirError('WEIR_SNAPSHOT_STORE_UNAVAILABLE', `cannot connect to Redis at ${url} (${(lastError ?? (e as Error)).message}); start Redis or set WEIR_REDIS_URL`, { cause: e });
  }
  return redis;
}
