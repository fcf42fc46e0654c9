/**
 * The Redis sink against the real Redis at redis://127.0.0.1:6379. Every key of this file contains
 * RUN (unique to the process): targets start with it, markers carry it in their job id; `after`
 * deletes them by SCAN. Never flushed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { redisHashSink as sdkRedisHashSink, redisSink as sdkRedisSink, type RedisWrite } from '@weir/sdk/connectors';
import { Redis } from 'ioredis';
import { pack, unpack } from 'msgpackr';
import { pino } from 'pino';
import { redisSink, redisSinkMarkerKey, type RedisSinkTxn } from './redis-sink.js';
import { sinkFactory } from './registry.js';
import { FINAL_TRANSACTION, isTransactional, type ConnectorContext, type SinkWriter, type TransactionalSinkWriter } from './types.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const RUN = `weir-test-redis-sink-${process.pid}-${Date.now()}`;
const T = { timeout: 30_000 };
const UID = 'out';

let r: Redis;
let seq = 0;
const writers: SinkWriter[] = [];

/** A unique prefix per test; also the job id, so the marker is unique too. */
const prefix = (): string => `${RUN}:${seq++}`;

function ctx(jobId: string, over: Partial<ConnectorContext> = {}): ConnectorContext {
  return {
    subtask: 0,
    parallelism: 1,
    operatorUid: UID,
    jobId,
    log: pino({ level: 'silent' }),
    redisUrl: REDIS_URL,
    nats: async () => {
      throw new Error('not used by the Redis sink');
    },
    ...over,
  };
}

async function open<T>(write: (v: T) => RedisWrite | readonly RedisWrite[], delivery: 'exactly-once' | 'at-least-once', c: ConnectorContext): Promise<SinkWriter> {
  const w = await redisSink({ write: write as (v: unknown) => RedisWrite | readonly RedisWrite[], delivery }, c);
  writers.push(w);
  return w;
}

async function exactlyOnce<T>(write: (v: T) => RedisWrite | readonly RedisWrite[], c: ConnectorContext): Promise<TransactionalSinkWriter<RedisSinkTxn>> {
  const w = await open(write, 'exactly-once', c);
  assert.ok(isTransactional(w), 'an exactly-once writer is transactional');
  return w as TransactionalSinkWriter<RedisSinkTxn>;
}

/** One record → one write of each type, keys under `p`. */
interface Rec {
  readonly id: number;
}
const allTypes =
  (p: string) =>
  (v: Rec): RedisWrite[] => [
    { type: 'hset', key: `${p}:h`, field: `f${v.id}`, value: v.id * 10 },
    { type: 'zadd', key: `${p}:z`, score: v.id, member: `m${v.id}` },
    { type: 'rpush', key: `${p}:l`, value: `v${v.id}` },
    { type: 'xadd', key: `${p}:x`, fields: { id: v.id, name: `n${v.id}` } },
  ];
const recs = (from: number, to: number): Rec[] => Array.from({ length: to - from }, (_, i) => ({ id: from + i }));

/** Everything the four keys under `p` hold. */
async function contents(p: string): Promise<{ hash: Record<string, string>; zset: string[]; list: string[]; stream: string[][] }> {
  const [hash, zset, list, stream] = await Promise.all([
    r.hgetall(`${p}:h`),
    r.zrange(`${p}:z`, 0, -1, 'WITHSCORES'),
    r.lrange(`${p}:l`, 0, -1),
    r.xrange(`${p}:x`, '-', '+'),
  ]);
  return { hash, zset, list, stream: stream.map(([, fields]) => fields) };
}

const expectCode = (code: string, re?: RegExp) => (e: unknown) => {
  assert.equal((e as { code?: string }).code, code, String(e));
  if (re) assert.match((e as Error).message, re);
  return true;
};

before(async () => {
  r = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, connectTimeout: 2_000 });
});

after(async () => {
  for (const w of writers) await w.close();
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `*${RUN}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await r.del(...keys);
  } while (cursor !== '0');
  await r.quit();
});

describe('at-least-once', () => {
  test('each batch is applied at once, all four write types', T, async () => {
    const p = prefix();
    const w = await open(allTypes(p), 'at-least-once', ctx(p));
    assert.equal(isTransactional(w), false);
    await w.write(recs(0, 2));
    assert.deepEqual(await contents(p), {
      hash: { f0: '0', f1: '10' },
      zset: ['m0', '0', 'm1', '1'],
      list: ['v0', 'v1'],
      stream: [['id', '0', 'name', 'n0'], ['id', '1', 'name', 'n1']],
    });
    await w.write(recs(2, 3));
    assert.equal(await r.llen(`${p}:l`), 3);
    assert.equal(await r.exists(redisSinkMarkerKey(p, UID)), 0, 'at-least-once keeps no marker');
  });

  test('the default delivery is at-least-once', T, async () => {
    const p = prefix();
    const w = await redisSink({ write: (v: unknown) => ({ type: 'rpush', key: `${p}:l`, value: String(v) }) }, ctx(p));
    writers.push(w);
    assert.equal(isTransactional(w), false);
    await w.write(['a']);
    assert.deepEqual(await r.lrange(`${p}:l`, 0, -1), ['a']);
  });

  test('a key of another type fails the write with WEIR_SINK_REDIS_WRITE_FAILED', T, async () => {
    const p = prefix();
    await r.hset(`${p}:l`, 'x', '1');
    const w = await open((v: string) => ({ type: 'rpush', key: `${p}:l`, value: v }), 'at-least-once', ctx(p));
    await assert.rejects(async () => w.write(['a']), expectCode('WEIR_SINK_REDIS_WRITE_FAILED', /RPUSH .*:l.*WRONGTYPE/));
  });
});

describe('exactly-once', () => {
  test('nothing is visible before the commit, everything after it', T, async () => {
    const p = prefix();
    const w = await exactlyOnce(allTypes(p), ctx(p));
    await w.write(recs(0, 2));
    await w.write(recs(2, 3));
    const empty = { hash: {}, zset: [], list: [], stream: [] };
    assert.deepEqual(await contents(p), empty, 'written, not committed');
    const pre = w.preCommit(1);
    await w.write(recs(3, 4)); // belongs to the next transaction
    assert.deepEqual(await contents(p), empty, 'pre-committed, not committed');
    // The transaction is plain data: it survives the checkpoint's msgpackr round trip.
    const txn = unpack(pack(pre.txn)) as RedisSinkTxn;
    await w.commit(1, txn, 0);
    assert.deepEqual(await contents(p), {
      hash: { f0: '0', f1: '10', f2: '20' },
      zset: ['m0', '0', 'm1', '1', 'm2', '2'],
      list: ['v0', 'v1', 'v2'],
      stream: [['id', '0', 'name', 'n0'], ['id', '1', 'name', 'n1'], ['id', '2', 'name', 'n2']],
    });
    assert.equal(await r.hget(redisSinkMarkerKey(p, UID), '0'), '1:0');
    const next = w.preCommit(2);
    assert.equal(next.txn.writes.length, 4, 'the record written after the barrier is in the next transaction');
    await w.commit(2, next.txn, 0);
    assert.deepEqual(await r.lrange(`${p}:l`, 0, -1), ['v0', 'v1', 'v2', 'v3']);
  });

  test('each applied commit restarts the marker expiry (7 days by default, markerExpiryMs otherwise)', T, async () => {
    const week = 7 * 24 * 60 * 60 * 1000;
    const p = prefix();
    const w = await exactlyOnce(allTypes(p), ctx(p));
    await w.write(recs(0, 1));
    await w.commit(1, w.preCommit(1).txn, 0);
    const ttl = await r.pttl(redisSinkMarkerKey(p, UID));
    assert.ok(ttl > week - 60_000 && ttl <= week, `default expiry: PTTL ${ttl}`);

    const q = prefix();
    const short = (await open(allTypes(q), 'exactly-once', ctx(q))) as TransactionalSinkWriter<RedisSinkTxn>;
    const shortLived = await redisSink({ write: allTypes(q) as (v: unknown) => RedisWrite[], delivery: 'exactly-once', markerExpiryMs: 5_000 }, ctx(q, { subtask: 1 }));
    writers.push(shortLived);
    await short.write(recs(0, 1));
    await short.commit(1, short.preCommit(1).txn, 0);
    await r.pexpire(redisSinkMarkerKey(q, UID), 2_000); // as if time had passed since that commit
    const tx = shortLived as TransactionalSinkWriter<RedisSinkTxn>;
    await tx.write(recs(1, 2));
    await tx.commit(1, tx.preCommit(1).txn, 1);
    const restarted = await r.pttl(redisSinkMarkerKey(q, UID));
    assert.ok(restarted > 2_000 && restarted <= 5_000, `a commit of subtask 1 restarts the hash's expiry: PTTL ${restarted}`);
    assert.deepEqual(await r.hgetall(redisSinkMarkerKey(q, UID)), { '0': '1:0', '1': '1:0' });
  });

  test('a repeated commit, or an older one after a newer, changes nothing (all four types)', T, async () => {
    const p = prefix();
    const w = await exactlyOnce(allTypes(p), ctx(p));
    await w.write(recs(0, 3));
    const t1 = w.preCommit(1).txn;
    await w.write(recs(3, 5));
    const t2 = w.preCommit(2).txn;
    await w.commit(1, t1, 0);
    await w.commit(2, t2, 0);
    const done = await contents(p);
    assert.equal(done.list.length, 5);
    assert.equal(done.stream.length, 5);
    await w.commit(2, t2, 0);
    await w.commit(1, t1, 0);
    await w.commit(2, t2, 0);
    assert.deepEqual(await contents(p), done);
    assert.equal(await r.llen(`${p}:l`), 5);
    assert.equal(await r.xlen(`${p}:x`), 5);
    // A different writer (a restored attempt) re-committing the restored transactions: still nothing.
    const again = await exactlyOnce(allTypes(p), ctx(p));
    await again.commit(1, t1, 0);
    await again.commit(2, t2, 0);
    assert.deepEqual(await contents(p), done);
  });

  test('checkpoint ids compare as numbers (10 after 9), chunks after their checkpoint', T, async () => {
    const p = prefix();
    const w = await exactlyOnce((v: string) => ({ type: 'rpush', key: `${p}:l`, value: v }), ctx(p));
    await w.write(['nine']);
    const t9 = w.preCommit(9).txn;
    await w.write(['ten']);
    const t10 = w.preCommit(10).txn;
    await w.commit(9, t9, 0);
    await w.commit(10, t10, 0);
    assert.deepEqual(await r.lrange(`${p}:l`, 0, -1), ['nine', 'ten']);
    assert.equal(await r.hget(redisSinkMarkerKey(p, UID), '0'), '10:0');
  });

  test('a commit cut short after its first chunk resumes there: each write applied once', T, async () => {
    const p = prefix();
    const w = await exactlyOnce((v: number) => [
      { type: 'rpush', key: `${p}:l`, value: v },
      { type: 'xadd', key: `${p}:x`, fields: { v } },
    ], ctx(p));
    await w.write(Array.from({ length: 1_250 }, (_, i) => i)); // 2,500 writes: chunks of 1,000, 1,000, 500
    const txn = w.preCommit(3).txn;
    assert.equal(txn.writes.length, 2_500);
    // The crash: only the first chunk reached Redis.
    await w.commit(3, { writes: txn.writes.slice(0, 1_000) }, 0);
    assert.equal(await r.llen(`${p}:l`), 500);
    assert.equal(await r.xlen(`${p}:x`), 500);
    assert.equal(await r.hget(redisSinkMarkerKey(p, UID), '0'), '3:0');
    // The restored transaction is committed again, in full.
    await w.commit(3, txn, 0);
    assert.deepEqual(await r.lrange(`${p}:l`, 0, -1), Array.from({ length: 1_250 }, (_, i) => String(i)));
    const stream = await r.xrange(`${p}:x`, '-', '+');
    assert.deepEqual(stream.map(([, f]) => f[1]), Array.from({ length: 1_250 }, (_, i) => String(i)));
    assert.equal(await r.hget(redisSinkMarkerKey(p, UID), '0'), '3:2');
    await w.commit(3, txn, 0);
    assert.equal(await r.llen(`${p}:l`), 1_250);
    assert.equal(await r.xlen(`${p}:x`), 1_250);
  });

  test('a refused chunk writes nothing of itself; the re-commit after the fix applies the rest once', T, async () => {
    const p = prefix();
    const w = await exactlyOnce((v: number) => (v === 1_500 ? { type: 'rpush', key: `${p}:blocked`, value: v } : { type: 'rpush', key: `${p}:l`, value: v }), ctx(p));
    await r.hset(`${p}:blocked`, 'a', 'b'); // a hash where the sink pushes to a list
    await w.write(Array.from({ length: 2_000 }, (_, i) => i));
    const txn = w.preCommit(4).txn;
    await assert.rejects(w.commit(4, txn, 0), expectCode('WEIR_SINK_REDIS_WRITE_FAILED', new RegExp(`'out'.*${p}:blocked.*holds a hash.*RPUSH`)));
    assert.equal(await r.llen(`${p}:l`), 1_000, 'chunk 0 applied, nothing of chunk 1 (its writes before the refused one included)');
    assert.equal(await r.hget(redisSinkMarkerKey(p, UID), '0'), '4:0');
    await r.del(`${p}:blocked`);
    await w.commit(4, txn, 0);
    assert.equal(await r.llen(`${p}:l`), 1_999);
    assert.deepEqual(await r.lrange(`${p}:blocked`, 0, -1), ['1500']);
  });

  test('FINAL_TRANSACTION commits after every checkpoint and is the largest', T, async () => {
    const p = prefix();
    const w = await exactlyOnce((v: string) => ({ type: 'rpush', key: `${p}:l`, value: v }), ctx(p));
    await w.write(['a']);
    const t5 = w.preCommit(5).txn;
    await w.write(Array.from({ length: 1_001 }, (_, i) => `f${i}`));
    const tf = w.preCommit(FINAL_TRANSACTION).txn;
    await w.commit(5, t5, 0);
    await w.commit(FINAL_TRANSACTION, tf, 0);
    assert.equal(await r.llen(`${p}:l`), 1_002);
    assert.equal(await r.hget(redisSinkMarkerKey(p, UID), '0'), `${FINAL_TRANSACTION}:1`);
    // A replay after the final commit (a crash before the job's end) and any later id change nothing.
    await w.commit(5, t5, 0);
    await w.commit(FINAL_TRANSACTION, tf, 0);
    await w.commit(6, { writes: [['r', `${p}:l`, 'late']] }, 0);
    await w.commit(Number.MAX_SAFE_INTEGER - 1, { writes: [['r', `${p}:l`, 'late']] }, 0);
    assert.equal(await r.llen(`${p}:l`), 1_002);
    assert.equal(await r.lindex(`${p}:l`, -1), 'f1000');
  });

  test('an empty transaction commits nothing (no marker written)', T, async () => {
    const p = prefix();
    const w = await exactlyOnce((v: string) => ({ type: 'rpush', key: `${p}:l`, value: v }), ctx(p));
    await w.write([]);
    const txn = w.preCommit(1).txn;
    assert.deepEqual(txn.writes, []);
    await w.commit(1, txn, 0);
    assert.equal(await r.exists(redisSinkMarkerKey(p, UID)), 0);
    await w.write(['x']);
    await w.commit(2, w.preCommit(2).txn, 0);
    assert.equal(await r.exists(redisSinkMarkerKey(p, UID)), 1);
  });

  test('each subtask has its own marker field', T, async () => {
    const p = prefix();
    const write = (v: string): RedisWrite => ({ type: 'rpush', key: `${p}:l`, value: v });
    const w0 = await exactlyOnce(write, ctx(p, { subtask: 0, parallelism: 2 }));
    const w1 = await exactlyOnce(write, ctx(p, { subtask: 1, parallelism: 2 }));
    await w0.write(['zero']);
    await w1.write(['one']);
    await w0.commit(1, w0.preCommit(1).txn, 0);
    await w1.commit(1, w1.preCommit(1).txn, 1);
    assert.deepEqual((await r.lrange(`${p}:l`, 0, -1)).sort(), ['one', 'zero']);
    assert.deepEqual(await r.hgetall(redisSinkMarkerKey(p, UID)), { '0': '1:0', '1': '1:0' });
  });
});

describe('records and options', () => {
  const bad: [string, unknown, RegExp][] = [
    ['undefined', undefined, /returned undefined/],
    ['a string', 'hello', /returned a string "hello"/],
    ['an unknown type', { type: 'set', key: 'k' }, /of type a string "set"/],
    ['no key', { type: 'rpush', value: 1 }, /key is undefined/],
    ['an empty key', { type: 'rpush', key: '', value: 1 }, /key is a string ""/],
    ['hset without field', { type: 'hset', key: 'k', value: 1 }, /hset write to 'k' whose field is undefined/],
    ['hset with an object value', { type: 'hset', key: 'k', field: 'f', value: {} }, /whose value is an object/],
    ['zadd with a string score', { type: 'zadd', key: 'k', score: '1', member: 'm' }, /whose score is a string "1"/],
    ['zadd with NaN', { type: 'zadd', key: 'k', score: NaN, member: 'm' }, /whose score is number NaN/],
    ['rpush with null', { type: 'rpush', key: 'k', value: null }, /whose value is null/],
    ['xadd without fields', { type: 'xadd', key: 'k', fields: {} }, /whose fields is an object/],
    ['xadd with a boolean field', { type: 'xadd', key: 'k', fields: { a: true } }, /field 'a' is boolean true/],
    ['a bad element of an array', [{ type: 'rpush', key: 'k', value: 1 }, 7], /number 7 \(element 1\)/],
  ];
  for (const delivery of ['at-least-once', 'exactly-once'] as const) {
    test(`${delivery}: an invalid write is WEIR_SINK_RECORD_INVALID naming the sink, and nothing of its batch is written`, T, async () => {
      const p = prefix();
      for (const [name, result, re] of bad) {
        const w = await open((v: string) => (v === 'bad' ? (result as RedisWrite) : { type: 'rpush', key: `${p}:l`, value: v }), delivery, ctx(p));
        await assert.rejects(async () => w.write(['ok', 'bad']), expectCode('WEIR_SINK_RECORD_INVALID', re), name);
        await assert.rejects(async () => w.write(['bad']), /Redis sink 'out'/, name);
        if (isTransactional(w)) assert.deepEqual((w.preCommit(1).txn as RedisSinkTxn).writes, [], name);
        await w.close();
      }
      assert.equal(await r.exists(`${p}:l`), 0);
    });
  }

  test('unreachable Redis at open is WEIR_SINK_REDIS_UNAVAILABLE, quickly, with the URL (password masked) and a fix', T, async () => {
    const started = Date.now();
    for (const delivery of ['at-least-once', 'exactly-once'] as const) {
      await assert.rejects(
        redisSink({ write: () => [], delivery, url: 'redis://:s3cret@127.0.0.1:1' }, ctx('unreachable')),
        (e: unknown) => {
          expectCode('WEIR_SINK_REDIS_UNAVAILABLE', /Redis sink 'out' cannot connect to redis:\/\/:\*\*\*@127\.0\.0\.1:1.*WEIR_REDIS_URL/)(e);
          assert.doesNotMatch((e as Error).message, /s3cret/);
          return true;
        },
      );
    }
    await assert.rejects(redisSink({ write: () => [] }, ctx('unreachable', { redisUrl: 'redis://127.0.0.1:1' })), expectCode('WEIR_SINK_REDIS_UNAVAILABLE', /127\.0\.0\.1:1/));
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  });

  test('the runtime rejects options without write, with an unknown delivery or a bad marker expiry', T, async () => {
    await assert.rejects(redisSink({} as never, ctx('x')), expectCode('WEIR_SINK_OPTIONS_INVALID', /'out' has no write function/));
    await assert.rejects(redisSink({ write: () => [], delivery: 'exactly_once' as never }, ctx('x')), expectCode('WEIR_SINK_OPTIONS_INVALID', /exactly_once/));
    for (const bad of [0, 999, 1.5e3 + 0.5, -5, '60000', NaN]) {
      await assert.rejects(redisSink({ write: () => [], delivery: 'exactly-once', markerExpiryMs: bad as number }, ctx('x')), expectCode('WEIR_SINK_OPTIONS_INVALID', /'out' markerExpiryMs .*at least 1000/));
    }
  });

  test('SDK: redisSink is type redis, at-least-once by default, and checks its options', () => {
    const write = (): RedisWrite[] => [];
    assert.deepEqual(sdkRedisSink({ write }), { role: 'sink', type: 'redis', options: { write, delivery: 'at-least-once' } });
    assert.equal((sdkRedisSink({ write, delivery: 'exactly-once' }).options as { delivery: string }).delivery, 'exactly-once');
    assert.throws(() => sdkRedisSink({} as never), expectCode('WEIR_SINK_OPTIONS_INVALID'));
    assert.throws(() => sdkRedisSink({ write, delivery: 'once' as never }), expectCode('WEIR_SINK_OPTIONS_INVALID', /'once'/));
    assert.throws(() => sdkRedisSink({ write, markerExpiryMs: 10 }), expectCode('WEIR_SINK_OPTIONS_INVALID', /markerExpiryMs is 10/));
  });

  test("SDK redisHashSink maps to the redis sink with an hset write; type 'redis-hash' still works", T, async () => {
    const p = prefix();
    const spec = sdkRedisHashSink<{ k: string; n: number }>({ hash: `${p}:h`, field: (v) => v.k, value: (v) => v.n });
    assert.equal(spec.type, 'redis');
    const w = await sinkFactory(spec.type)(spec.options, ctx(p));
    writers.push(w);
    assert.equal(isTransactional(w), false);
    await w.write([{ k: 'a', n: 1 }, { k: 'b', n: 2 }, { k: 'a', n: 3 }]);
    assert.deepEqual(await r.hgetall(`${p}:h`), { a: '3', b: '2' });

    const json = sdkRedisHashSink<{ k: string }>({ hash: `${p}:j`, field: (v) => v.k });
    const wj = await sinkFactory(json.type)(json.options, ctx(p));
    writers.push(wj);
    await wj.write([{ k: 'x' }]);
    assert.deepEqual(await r.hgetall(`${p}:j`), { x: '{"k":"x"}' }, 'the value defaults to JSON of the record');

    const legacy = await sinkFactory('redis-hash')({ hash: `${p}:old`, field: (v: { k: string }) => v.k }, ctx(p));
    writers.push(legacy);
    await legacy.write([{ k: 'y' }]);
    assert.deepEqual(await r.hgetall(`${p}:old`), { y: '{"k":"y"}' });
  });
});
