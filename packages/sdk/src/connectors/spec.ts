/**
 * Connector descriptors. The SDK only describes a connector (a type name and options); the
 * runtime owns the I/O. Options may hold functions: they run inside the worker with the job code.
 */
export interface SourceSpec<T> {
  readonly role: 'source';
  readonly type: string;
  readonly options: object;
  /** True when the input ends (the job can reach FINISHED). */
  readonly bounded: boolean;
  /** Phantom: the record type this source produces. */
  readonly __out?: T;
}

export interface SinkSpec<T> {
  readonly role: 'sink';
  readonly type: string;
  readonly options: object;
  /** Phantom: the record type this sink accepts. */
  readonly __in?: (value: T) => void;
}

/** Connection options for connectors that open their own NATS connection. */
export interface NatsConnectionOptions {
  /** Server URL(s); default: the cluster's WEIR_NATS_URL. */
  readonly servers?: string | readonly string[];
  /** User and password authentication. */
  readonly user?: string;
  readonly pass?: string;
  /** Token authentication. */
  readonly token?: string;
  /** Path of a NATS credentials file (user JWT and nkey seed), read on the worker. */
  readonly credsFile?: string;
  /** TLS: CA to trust, and a client certificate and key for mutual TLS (paths on the worker). */
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
}

/** Only the connection fields of a connector's options (the key of a shared connection). */
export function natsConnectionOf(o: NatsConnectionOptions): NatsConnectionOptions {
  const { servers, user, pass, token, credsFile, tls } = o;
  return Object.fromEntries(Object.entries({ servers, user, pass, token, credsFile, tls }).filter(([, v]) => v !== undefined)) as NatsConnectionOptions;
}
