/**
 * bench:savepoints — the limit: the savepoint's blobs (the same names, sizes and bytes, taken from
 * its export file) written to Redis with plain pipelined SETs from one ioredis connection, then
 * read back with pipelined GETs. The keys are `weir:{<cluster>:limit}:blob:<name>`, inside the
 * cluster's prefix, and are deleted before each write (untimed) and at the end. Also, as
 * information: Redis's own intake of the same SETs, encoded beforehand and written to a plain socket.
 */
import { connect, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { withTimeout } from './util.js';

export interface LimitRun {
  readonly writeMs: number;
  readonly readMs: number;
}

export interface LimitResult {
  readonly blobs: number;
  readonly bytes: number;
  readonly runs: LimitRun[];
  /** Untimed runs first, on the same connection. */
  readonly warmups: number;
}

/** Chunks of a pipeline: at most this many bytes of values (one bigger blob goes alone). */
function chunkBySize<T extends { bytes: Uint8Array }>(blobs: readonly T[], maxBytes: number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const b of blobs) {
    if (current.length > 0 && size + b.bytes.byteLength > maxBytes) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(b);
    size += b.bytes.byteLength;
  }
  if (current.length > 0) out.push(current);
  return out;
}

function check(results: [Error | null, unknown][] | null): unknown[] {
  if (results === null) throw new Error('pipeline aborted');
  for (const [err] of results) if (err) throw err;
  return results.map(([, v]) => v);
}

/**
 * `warmups` untimed runs, then `runs` timed ones, on one connection. The warm-up matters: a fresh
 * connection's first pipelines of megabytes take 5-15 times as long as later ones (measured: 160,
 * 100, 77 ms, then 8-20 ms for the same 14.5 MB, while Redis's own SET time stayed at 0.1 ms per
 * pipeline). That is the client: ioredis copies the values into newly allocated buffers, and fresh
 * pages cost about 10 µs each on this VM (bench/README.md, "Why the limit has two modes"). The
 * workers' connections to Redis are long-lived and busy. Each run: UNLINK the keys (untimed), SET every blob in pipelines of at most `pipelineBytes`
 * (all sent at once, awaited together: timed), then GET them all in one pipeline (timed) and check
 * every length. The keys are deleted at the end, also on failure.
 */
export async function measureLimit(o: { redisUrl: string; clusterId: string; blobs: readonly { name: string; bytes: Uint8Array }[]; runs: number; warmups: number; pipelineBytes: number }): Promise<LimitResult> {
  const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true });
  const key = (name: string) => `weir:{${o.clusterId}:limit}:blob:${name}`;
  const keys = o.blobs.map((b) => key(b.name));
  const values = o.blobs.map((b) => ({ key: key(b.name), bytes: b.bytes, buf: Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength) }));
  const total = o.blobs.reduce((n, b) => n + b.bytes.byteLength, 0);
  const runs: LimitRun[] = [];
  try {
    await withTimeout(redis.connect(), 10_000, `connecting to ${o.redisUrl}`);
    await redis.ping();
    for (let r = 0; r < o.warmups + o.runs; r++) {
      await redis.unlink(...keys);
      const w0 = performance.now();
      await withTimeout(
        Promise.all(
          chunkBySize(values, o.pipelineBytes).map(async (part) => {
            const p = redis.pipeline();
            for (const v of part) p.set(v.key, v.buf);
            check(await p.exec());
          }),
        ),
        120_000,
        'pipelined SETs',
      );
      const writeMs = performance.now() - w0;
      const r0 = performance.now();
      const p = redis.pipeline();
      for (const k of keys) p.getBuffer(k);
      const read = check(await withTimeout(p.exec(), 120_000, 'pipelined GETs')) as (Buffer | null)[];
      const readMs = performance.now() - r0;
      const got = read.reduce((n, b) => n + (b?.length ?? -1e12), 0);
      if (got !== total) throw new Error(`read back ${got} bytes of the ${total} written`);
      if (r >= o.warmups) runs.push({ writeMs, readMs });
    }
    return { blobs: o.blobs.length, bytes: total, runs, warmups: o.warmups };
  } finally {
    await withTimeout(redis.unlink(...keys), 10_000, 'deleting the limit keys').catch((e) => console.error(`bench: ${String(e)}`));
    redis.disconnect();
  }
}

/** RESP encoding of one command. */
function resp(args: readonly (string | Uint8Array)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    parts.push(Buffer.from(`$${b.byteLength}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Sends `request` and resolves with the reply bytes once `done(reply)` says they are complete. Bounded. */
function roundTrip(socket: Socket, request: Buffer, done: (reply: string) => boolean, what: string): Promise<void> {
  let reply = '';
  return withTimeout(
    new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        reply += d.toString('latin1');
        if (reply.startsWith('-')) finish(new Error(`${what}: ${reply.split('\r\n')[0]}`));
        else if (done(reply)) finish();
      };
      const finish = (err?: Error) => {
        socket.off('data', onData);
        if (err) reject(err);
        else resolve();
      };
      socket.on('data', onData);
      socket.write(request);
    }),
    120_000,
    what,
  );
}

/**
 * Redis's own intake of the same SETs, as information beside the limit: every SET encoded once
 * (untimed), then per run UNLINK (untimed) and one socket write of them all, timed to the last
 * `+OK`. No client library, no allocation while timed: what the server needs for these bytes.
 */
export async function measureRawIntake(o: { redisUrl: string; clusterId: string; blobs: readonly { name: string; bytes: Uint8Array }[]; runs: number; warmups: number }): Promise<number[]> {
  const url = new URL(o.redisUrl);
  if (url.password || url.username || (url.pathname && url.pathname !== '/' && url.pathname !== '/0')) return []; // AUTH/SELECT: not worth a second client here
  const key = (name: string) => `weir:{${o.clusterId}:limit}:raw:${name}`;
  const sets = Buffer.concat(o.blobs.map((b) => resp(['SET', key(b.name), b.bytes])));
  const unlink = resp(['UNLINK', ...o.blobs.map((b) => key(b.name))]);
  const oks = '+OK\r\n'.repeat(o.blobs.length);
  const integer = (r: string) => /^:\d+\r\n$/.test(r);
  const socket = connect(Number(url.port || 6379), url.hostname);
  socket.setNoDelay(true);
  const times: number[] = [];
  try {
    await withTimeout(new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject)), 10_000, `connecting to ${o.redisUrl}`);
    for (let r = 0; r < o.warmups + o.runs; r++) {
      await roundTrip(socket, unlink, integer, 'UNLINK');
      const t0 = performance.now();
      await roundTrip(socket, sets, (reply) => reply.length >= oks.length, 'raw SETs');
      if (r >= o.warmups) times.push(performance.now() - t0);
    }
    await roundTrip(socket, unlink, integer, 'UNLINK');
    return times;
  } finally {
    socket.destroy();
  }
}
