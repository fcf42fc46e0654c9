import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { WeirError } from '@weir/sdk';
import type { NatsConnectionOptions } from '@weir/sdk/connectors';

type Auth = Omit<NatsConnectionOptions, 'servers'>;

function authOptions(a: Auth): Partial<ConnectionOptions> {
  const o: Partial<ConnectionOptions> = {};
  if (a.user !== undefined) Object.assign(o, { user: a.user, pass: a.pass ?? '' });
  if (a.token !== undefined) o.token = a.token;
  if (a.credsFile !== undefined) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(a.credsFile);
    } catch (e) {
      throw new WeirError('WEIR_CONFIG_INVALID', `NATS credentials file '${a.credsFile}' cannot be read: ${(e as Error).message}`, { cause: e });
    }
    o.authenticator = credsAuthenticator(creds);
  }
  if (a.tls) o.tls = { ...(a.tls.caFile ? { caFile: a.tls.caFile } : {}), ...(a.tls.certFile ? { certFile: a.tls.certFile } : {}), ...(a.tls.keyFile ? { keyFile: a.tls.keyFile } : {}) };
  return o;
}

/** Connect with a clear error when the server is not there or refuses the credentials. */
export async function connectNats(servers: string | readonly string[], name: string, auth: Auth = {}): Promise<NatsConnection> {
  const list = (typeof servers === 'string' ? servers.split(',') : [...servers]).map((s) => s.trim());
  try {
    // noAsyncTraces: no Error object per request/publish just for stack context (a hot path for channels).
    return await connect({ servers: list, name, maxReconnectAttempts: -1, reconnectTimeWait: 500, noAsyncTraces: true, ...authOptions(auth) });
  } catch (e) {
    if (e instanceof WeirError) throw e;
    throw new WeirError('WEIR_NATS_UNREACHABLE', `cannot connect to NATS at ${list.join(',')} (${(e as Error).message}); start nats-server with -js, check the credentials, or set WEIR_NATS_URL`, { cause: e });
  }
}

/** Connections for connectors, one per server list and credentials; the cluster's own reuses `primary`. */
export function connectorConnections(defaultServers: string, primary?: NatsConnection): {
  get(options?: NatsConnectionOptions): Promise<NatsConnection>;
  close(): Promise<void>;
} {
  const conns = new Map<string, Promise<NatsConnection>>();
  const defaultKey = JSON.stringify([defaultServers, {}]);
  if (primary) conns.set(defaultKey, Promise.resolve(primary));
  return {
    get(options = {}) {
      const { servers, ...auth } = options;
      const list = servers === undefined ? defaultServers : typeof servers === 'string' ? servers : servers.join(',');
      const key = JSON.stringify([list, auth]);
      let c = conns.get(key);
      if (!c) {
        c = connectNats(list, 'weir-connector', auth);
        c.catch(() => conns.delete(key));
        conns.set(key, c);
      }
      return c;
    },
    async close() {
      for (const [k, c] of conns) if (k !== defaultKey || !primary) await (await c.catch(() => undefined))?.close();
    },
  };
}
