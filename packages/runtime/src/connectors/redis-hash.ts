import { WeirError } from '@weir/sdk';
import { Redis } from 'ioredis';
import type { ConnectorContext, SinkWriter } from './types.js';

interface Options {
  hash: string;
  field: (v: unknown) => string;
  value?: (v: unknown) => string | number;
  url?: string;
}

/** HSET of every record of a batch in one pipeline; the task waits for it (backpressure). */
export async function redisHashSink(o: Options, ctx: ConnectorContext): Promise<SinkWriter> {
  const url = o.url ?? ctx.redisUrl;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, connectionName: `weir-sink-${ctx.operatorUid}-${ctx.subtask}` });
  redis.on('error', () => undefined); // failures surface through the commands
  try {
    await redis.connect();
  } catch (e) {
    redis.disconnect();
    throw new WeirError('WEIR_SINK_REDIS_UNAVAILABLE', `Redis sink '${ctx.operatorUid}' cannot connect to ${url}: ${(e as Error).message}`, { cause: e });
  }
  const value = o.value ?? ((v: unknown) => JSON.stringify(v));
  return {
    async write(records) {
      const args: (string | number)[] = [];
      for (const r of records) args.push(o.field(r), value(r));
      if (args.length > 0) await redis.hset(o.hash, ...args);
    },
    async close() {
      redis.disconnect();
    },
  };
}
