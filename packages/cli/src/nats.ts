import { connect, type NatsConnection } from '@nats-io/transport-node';
import { WeirError } from '@weir/sdk';

/** Connect with a clear error when the server is not there. */
export async function connectNats(servers: string | readonly string[], name: string): Promise<NatsConnection> {
  const list = (typeof servers === 'string' ? servers.split(',') : [...servers]).map((s) => s.trim());
  try {
    // noAsyncTraces: no Error object per request/publish just for stack context (a hot path for channels).
    return await connect({ servers: list, name, maxReconnectAttempts: -1, reconnectTimeWait: 500, noAsyncTraces: true });
  } catch (e) {
    throw new WeirError('WEIR_NATS_UNREACHABLE', `cannot connect to NATS at ${list.join(',')} (${(e as Error).message}); start nats-server with -js, or set WEIR_NATS_URL`, { cause: e });
  }
}

/** Connections for connectors, one per server list; the default list reuses `primary`. */
export function connectorConnections(defaultServers: string, primary?: NatsConnection): {
  get(servers?: string | readonly string[]): Promise<NatsConnection>;
  close(): Promise<void>;
} {
  const conns = new Map<string, Promise<NatsConnection>>();
  if (primary) conns.set(defaultServers, Promise.resolve(primary));
  return {
    get(servers) {
      const key = servers === undefined ? defaultServers : typeof servers === 'string' ? servers : servers.join(',');
      let c = conns.get(key);
      if (!c) {
        c = connectNats(key, 'weir-connector');
        c.catch(() => conns.delete(key));
        conns.set(key, c);
      }
      return c;
    },
    async close() {
      for (const [k, c] of conns) if (k !== defaultServers || !primary) await (await c.catch(() => undefined))?.close();
    },
  };
}
