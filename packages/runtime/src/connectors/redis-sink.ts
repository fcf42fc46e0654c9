/**
 * Redis sink (type `redis`; `redis-hash` maps onto it): each record becomes HSET, ZADD, RPUSH or
 * XADD commands, delivered at-least-once (one pipeline per batch) or exactly-once (two-phase
 * commit driven by checkpoints, applied by a Lua script guarded by a commit marker).
 *
 * Exactly-once. The writes between two barriers are the open transaction, held in memory; at a
 * barrier they become the checkpoint's pending transaction (plain data in the checkpoint) and are
 * applied when the checkpoint completes. A commit is split into chunks of COMMIT_CHUNK writes;
 * each chunk is one script call that reads the subtask's marker `<cp>:<chunk>` in the hash
 * `weir:sink:{<jobId>}:<operatorUid>` (field: subtask index), applies the chunk only if
 * (cp, chunk) comes after it, and sets the marker, all atomically. A repeated commit (after a
 * restore, or of an older checkpoint after a newer one) therefore changes nothing, and a commit
 * cut short by a crash resumes at the first chunk not applied. Checkpoint ids only grow over a
 * job's attempts; FINAL_TRANSACTION (Number.MAX_SAFE_INTEGER, exact in Lua's doubles) is the
 * largest. Every applied chunk also restarts the marker hash's expiry (`markerExpiryMs`, default
 * 7 days): an ended job's markers go away by themselves. A restore later than that after the last
 * commit (a job stuck that long) would apply its restored transactions again.
 *
 * Redis does not roll back a script that fails halfway, so the script checks the type of every
 * key of the chunk before it writes anything: a key of another type refuses the whole chunk.
 *
 * Redis Cluster: the script names only the marker in KEYS; the target keys travel in ARGV. On a
 * cluster every target key must therefore share the marker's slot (hash tag `{<jobId>}`), or the
 * script fails with CROSSSLOT. The connection is a standalone one anyway (no redirections):
 * standalone Redis is what is supported and tested.
 */
import { WeirError } from '@weir/sdk';
import { checkMarkerExpiry, type RedisWrite } from '@weir/sdk/connectors';
import { Redis, ReplyError } from 'ioredis';
import type { ConnectorContext, PreCommitted, SinkWriter, TransactionalSinkWriter } from './types.js';

/** Writes per script call of an exactly-once commit: bounds how long one call blocks Redis. */
export const COMMIT_CHUNK = 1_000;
/** Field/value pairs of one XADD (keeps the script's unpack within Lua's stack limit). */
export const MAX_XADD_FIELDS = 1_000;

type Delivery = 'exactly-once' | 'at-least-once';

export interface RedisSinkRuntimeOptions {
  write: (value: unknown) => RedisWrite | readonly RedisWrite[];
  delivery?: Delivery;
  url?: string;
  markerExpiryMs?: number;
}

/** Codes of the write types in staged writes and script arguments. */
const CODES = { hset: 'h', zadd: 'z', rpush: 'r', xadd: 'x' } as const;
type Code = (typeof CODES)[keyof typeof CODES];

/** A validated write as plain strings: [code, key, ...values]; xadd values are field/value pairs. */
export type StagedWrite = [Code, string, ...string[]];

/** An exactly-once transaction as kept in the checkpoint (msgpackr): the staged writes in order. */
export interface RedisSinkTxn {
  readonly writes: readonly StagedWrite[];
}

/** The marker hash of a sink operator; the hash tag keeps all markers of a job in one slot. */
export function redisSinkMarkerKey(jobId: string, operatorUid: string): string {
  return `weir:sink:{${jobId}}:${operatorUid}`;
}

/**
 * KEYS[1] marker hash. ARGV[1] field (subtask), ARGV[2] checkpoint id, ARGV[3] chunk index,
 * ARGV[4] the marker's expiry in ms, then per write: code, key, n, v1..vn. Returns 1 applied, 0 skipped (already applied), or
 * {key, actual type, code} when a key holds another type (nothing written).
 */
const COMMIT_LUA = `
local cp = tonumber(ARGV[2])
local chunk = tonumber(ARGV[3])
local marker = redis.call('HGET', KEYS[1], ARGV[1])
if marker then
  local mcp, mchunk = string.match(marker, '^(%d+):(%d+)$')
  if not mcp then return redis.error_reply('WEIR malformed commit marker ' .. marker .. ' in ' .. KEYS[1]) end
  mcp = tonumber(mcp)
  mchunk = tonumber(mchunk)
  if cp < mcp or (cp == mcp and chunk <= mchunk) then return 0 end
end
local want = { h = 'hash', z = 'zset', r = 'list', x = 'stream' }
local seen = {}
local i = 5
while i <= #ARGV do
  local code, key = ARGV[i], ARGV[i + 1]
  local t = seen[key]
  if not t then t = redis.call('TYPE', key)['ok'] end
  if t ~= 'none' and t ~= want[code] then return { key, t, code } end
  seen[key] = want[code]
  i = i + 3 + tonumber(ARGV[i + 2])
end
i = 5
while i <= #ARGV do
  local code, key, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  if code == 'h' then
    redis.call('HSET', key, ARGV[i + 3], ARGV[i + 4])
  elseif code == 'z' then
    redis.call('ZADD', key, ARGV[i + 3], ARGV[i + 4])
  elseif code == 'r' then
    redis.call('RPUSH', key, ARGV[i + 3])
  else
    local args = { key, '*' }
    for j = 1, n do args[j + 2] = ARGV[i + 2 + j] end
    redis.call('XADD', unpack(args))
  end
  i = i + 3 + n
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`;

const COMMAND_OF: Record<Code, string> = { h: 'HSET', z: 'ZADD', r: 'RPUSH', x: 'XADD' };

type CommitScript = { weirRedisSinkCommit(marker: string, ...args: string[]): Promise<0 | 1 | [string, string, Code]> };

/** The URL with its password masked, for messages. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

const describe = (v: unknown): string => {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `a string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
};

const isValue = (v: unknown): v is string | number => typeof v === 'string' || typeof v === 'number';
const valueString = (v: string | number): string => (typeof v === 'string' ? v : String(v));
const scoreString = (s: number): string => (s === Infinity ? '+inf' : s === -Infinity ? '-inf' : String(s));

/**
 * Validates what `write` returned for one record and appends its writes to `out`.
 * @throws WeirError `WEIR_SINK_RECORD_INVALID` naming the sink and what is wrong.
 */
export function stageWrites(result: unknown, uid: string, out: StagedWrite[]): void {
  const fail = (what: string): never => {
    throw new WeirError('WEIR_SINK_RECORD_INVALID', `Redis sink '${uid}': write() returned ${what}; expected a RedisWrite ({ type: 'hset' | 'zadd' | 'rpush' | 'xadd', key, ... }) or an array of them`);
  };
  const list: readonly unknown[] = Array.isArray(result) ? result : [result];
  list.forEach((w, i) => {
    const at = Array.isArray(result) ? ` (element ${i})` : '';
    if (typeof w !== 'object' || w === null || Array.isArray(w)) return fail(`${describe(w)}${at}`);
    const o = w as Record<string, unknown>;
    const type = o.type;
    if (typeof o.key !== 'string' || o.key === '') fail(`a write${at} whose key is ${describe(o.key)} (a non-empty string is needed)`);
    const key = o.key as string;
    const bad = (field: string, need: string): never => fail(`a ${String(type)} write${at} to '${key}' whose ${field} is ${describe(o[field])} (${need} is needed)`);
    switch (type) {
      case 'hset':
        if (typeof o.field !== 'string') bad('field', 'a string');
        if (!isValue(o.value)) bad('value', 'a string or number');
        out.push([CODES.hset, key, o.field as string, valueString(o.value as string | number)]);
        return;
      case 'zadd':
        if (typeof o.score !== 'number' || Number.isNaN(o.score)) bad('score', 'a number');
        if (typeof o.member !== 'string') bad('member', 'a string');
        out.push([CODES.zadd, key, scoreString(o.score as number), o.member as string]);
        return;
      case 'rpush':
        if (!isValue(o.value)) bad('value', 'a string or number');
        out.push([CODES.rpush, key, valueString(o.value as string | number)]);
        return;
      case 'xadd': {
        const f = o.fields;
        if (typeof f !== 'object' || f === null || Array.isArray(f)) return bad('fields', 'an object of field names to strings or numbers');
        const entries = Object.entries(f as object);
        if (entries.length === 0 || entries.length > MAX_XADD_FIELDS) return bad('fields', `an object with 1 to ${MAX_XADD_FIELDS} fields`);
        const pairs: string[] = [];
        for (const [name, v] of entries) {
          if (!isValue(v)) fail(`an xadd write${at} to '${key}' whose field '${name}' is ${describe(v)} (a string or number is needed)`);
          pairs.push(name, valueString(v as string | number));
        }
        out.push([CODES.xadd, key, ...pairs]);
        return;
      }
      default:
        fail(`a write${at} of type ${describe(type)} (hset, zadd, rpush or xadd)`);
    }
  });
}

function writeFailed(uid: string, w: StagedWrite | undefined, e: unknown, url: string): WeirError {
  if (e instanceof ReplyError) {
    const what = w ? `${COMMAND_OF[w[0]]} ${w[1]}` : 'a write';
    return new WeirError('WEIR_SINK_REDIS_WRITE_FAILED', `Redis sink '${uid}': Redis refused ${what}: ${(e as Error).message}`, { cause: e });
  }
  return new WeirError('WEIR_SINK_REDIS_UNAVAILABLE', `Redis sink '${uid}' lost its Redis at ${redactUrl(url)}: ${(e as Error).message}`, { cause: e });
}

async function connect(url: string, ctx: ConnectorContext): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, connectTimeout: 5_000, connectionName: `weir-sink-${ctx.operatorUid}-${ctx.subtask}` });
  // Without a listener ioredis' 'error' events would crash the process; failures surface through the commands.
  redis.on('error', (e: Error) => ctx.log.debug({ err: e.message }, 'redis sink connection error'));
  try {
    await redis.connect();
  } catch (e) {
    redis.disconnect();
    throw new WeirError(
      'WEIR_SINK_REDIS_UNAVAILABLE',
      `Redis sink '${ctx.operatorUid}' cannot connect to ${redactUrl(url)}: ${(e as Error).message}. Start Redis there, or point the sink at a reachable Redis (its \`url\` option, or the cluster's WEIR_REDIS_URL)`,
      { cause: e },
    );
  }
  return redis;
}

/** Sink factory of type `redis`. */
export async function redisSink(o: RedisSinkRuntimeOptions, ctx: ConnectorContext): Promise<SinkWriter> {
  const uid = ctx.operatorUid;
  if (typeof o?.write !== 'function') throw new WeirError('WEIR_SINK_OPTIONS_INVALID', `Redis sink '${uid}' has no write function`);
  const delivery = o.delivery ?? 'at-least-once';
  if (delivery !== 'exactly-once' && delivery !== 'at-least-once') {
    throw new WeirError('WEIR_SINK_OPTIONS_INVALID', `Redis sink '${uid}' has delivery '${String(delivery)}'; use 'exactly-once' or 'at-least-once'`);
  }
  const expiryMs = checkMarkerExpiry(o.markerExpiryMs, `Redis sink '${uid}'`);
  const url = o.url ?? ctx.redisUrl;
  const redis = await connect(url, ctx);
  const stage = (records: unknown[], out: StagedWrite[]): void => {
    for (const r of records) stageWrites(o.write(r), uid, out);
  };
  if (delivery === 'at-least-once') return atLeastOnce(redis, stage, uid, url);
  return exactlyOnce(redis, stage, ctx, url, expiryMs);
}

function atLeastOnce(redis: Redis, stage: (records: unknown[], out: StagedWrite[]) => void, uid: string, url: string): SinkWriter {
  return {
    async write(records) {
      const writes: StagedWrite[] = [];
      stage(records, writes);
      if (writes.length === 0) return;
      const p = redis.pipeline();
      for (const w of writes) {
        const [code, key, ...v] = w;
        if (code === 'h') p.hset(key, v[0]!, v[1]!);
        else if (code === 'z') p.zadd(key, v[0]!, v[1]!);
        else if (code === 'r') p.rpush(key, v[0]!);
        else p.xadd(key, '*', ...v);
      }
      let results: [Error | null, unknown][] | null;
      try {
        results = await p.exec();
      } catch (e) {
        throw writeFailed(uid, undefined, e, url);
      }
      const i = results?.findIndex(([err]) => err) ?? -1;
      if (i >= 0) throw writeFailed(uid, writes[i], results![i]![0], url);
    },
    async close() {
      redis.disconnect();
    },
  };
}

function exactlyOnce(redis: Redis, stage: (records: unknown[], out: StagedWrite[]) => void, ctx: ConnectorContext, url: string, expiryMs: number): TransactionalSinkWriter<RedisSinkTxn> {
  const uid = ctx.operatorUid;
  redis.defineCommand('weirRedisSinkCommit', { numberOfKeys: 1, lua: COMMIT_LUA });
  const script = redis as unknown as CommitScript;
  const marker = redisSinkMarkerKey(ctx.jobId, uid);
  let open: StagedWrite[] = [];
  return {
    write(records) {
      const batch: StagedWrite[] = [];
      stage(records, batch); // all or nothing: an invalid record stages nothing of its batch
      for (const w of batch) open.push(w);
    },
    preCommit(checkpointId): PreCommitted<RedisSinkTxn> {
      const txn = { writes: open };
      open = [];
      return { txn };
    },
    async commit(checkpointId, txn, origin) {
      const field = String(origin);
      const writes = txn?.writes;
      if (!Array.isArray(writes)) throw new WeirError('WEIR_SNAPSHOT_CORRUPT', `Redis sink '${uid}': the transaction of checkpoint ${checkpointId} has no writes list`);
      // Chunks go one after the other: a refused chunk must stop the later ones (the marker would pass it).
      for (let chunk = 0; chunk * COMMIT_CHUNK < writes.length; chunk++) {
        const args: string[] = [field, String(checkpointId), String(chunk), String(expiryMs)];
        for (const w of writes.slice(chunk * COMMIT_CHUNK, (chunk + 1) * COMMIT_CHUNK)) args.push(w[0], w[1], String(w.length - 2), ...w.slice(2));
        let reply: Awaited<ReturnType<CommitScript['weirRedisSinkCommit']>>;
        try {
          reply = await script.weirRedisSinkCommit(marker, ...args);
        } catch (e) {
          throw writeFailed(uid, undefined, e, url);
        }
        if (Array.isArray(reply)) {
          const [key, actual, code] = reply;
          throw new WeirError(
            'WEIR_SINK_REDIS_WRITE_FAILED',
            `Redis sink '${uid}': key '${key}' holds a ${actual}, ${COMMAND_OF[code]} needs a ${({ h: 'hash', z: 'zset', r: 'list', x: 'stream' } as const)[code]}; nothing of checkpoint ${checkpointId} chunk ${chunk} was written (delete or rename the key, or write elsewhere)`,
          );
        }
      }
    },
    async close() {
      redis.disconnect();
    },
  };
}

/** Options of the `redis-hash` type (graphs of the SDK's older redisHashSink). */
interface RedisHashOptions {
  hash: string;
  field: (v: unknown) => string;
  value?: (v: unknown) => string | number;
  url?: string;
}

/** Sink factory of type `redis-hash`: the `redis` sink with one HSET per record, at-least-once. */
export function redisHashSink(o: RedisHashOptions, ctx: ConnectorContext): Promise<SinkWriter> {
  const value = o.value ?? ((v: unknown) => JSON.stringify(v));
  return redisSink(
    {
      write: (v) => {
        const f: unknown = o.field(v);
        return { type: 'hset', key: o.hash, field: typeof f === 'number' ? String(f) : (f as string), value: value(v) };
      },
      delivery: 'at-least-once',
      ...(o.url !== undefined ? { url: o.url } : {}),
    },
    ctx,
  );
}
