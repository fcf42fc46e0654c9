/**
 * One contract suite run against every SnapshotStore: Redis (the server at redis://127.0.0.1:6379,
 * keys namespaced by a cluster id unique to this run; never flushed) and a fresh temp directory.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { FileSnapshotStore } from './file-store.js';
import { RedisSnapshotStore } from './redis-store.js';
import { redisJobKeys } from './redis-keys.js';
import { onCommand, rejectsWith, scanAll } from './store-testing.js';
import type { BlobWrite, CompletedCheckpoint, SnapshotStore } from './types.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const CLUSTER = `test-${process.pid}-${Date.now()}`;
const MiB = 1024 * 1024;
/** Every test is bounded: a hung store fails the test instead of the run. */
const T = { timeout: 30_000 };

interface Harness {
  readonly store: SnapshotStore;
  /** Whether anything of the job is left in the backing storage. */
  leftovers(jobId: string): Promise<string[]>;
  close(): Promise<void>;
}

const backends: { name: string; open(): Promise<Harness> }[] = [
  {
    name: 'RedisSnapshotStore',
    async open() {
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, connectTimeout: 2_000 });
      return {
        store: new RedisSnapshotStore(redis, { cluster: CLUSTER }),
        leftovers: (jobId) => scanAll(redis, redisJobKeys(CLUSTER, jobId).pattern),
        close: async () => void (await redis.quit()),
      };
    },
  },
  {
    name: 'FileSnapshotStore',
    async open() {
      const dir = await mkdtemp(join(tmpdir(), 'weir-snapshots-'));
      return {
        store: new FileSnapshotStore(dir),
        leftovers: async (jobId) => (existsSync(join(dir, jobId)) ? [join(dir, jobId)] : []),
        close: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
];

for (const backend of backends) {
  describe(backend.name, () => {
    let h: Harness;
    let store: SnapshotStore;
    const jobs: string[] = [];
    /** A fresh job id per test, deleted in `after`. */
    const job = (): string => {
      const id = `job${jobs.length}`;
      jobs.push(id);
      return id;
    };

    before(async () => {
      h = await backend.open();
      store = h.store;
    });
    after(async () => {
      for (const j of jobs) await store.deleteJob(j);
      await store.close();
      await h.close();
    });

    test('blobs round-trip byte for byte, read in the order asked', T, async () => {
      const j = job();
      await store.fence(j, 1);
      const backing = new Uint8Array([9, 9, 0xff, 0x00, 0x80, 0xfe, 9]);
      const blobs: BlobWrite[] = [
        { name: 'ks/op/0/1-1-base', bytes: new Uint8Array([0, 0, 0, 0]) },
        { name: 'ks/op/1/1-1-base', bytes: new Uint8Array(0) },
        // Not valid UTF-8, and a view into a larger buffer: only the view's bytes may be stored.
        { name: 'os/op/0/1-1', bytes: backing.subarray(2, 6) },
        { name: 'weird name/ü?*[x]%', bytes: new Uint8Array([1, 2, 3]) },
      ];
      assert.equal(await store.writeBlobs(j, 1, blobs), 4 + 0 + 4 + 3);
      const got = await store.readBlobs(j, ['os/op/0/1-1', 'weird name/ü?*[x]%', 'ks/op/0/1-1-base', 'ks/op/1/1-1-base']);
      assert.deepEqual(got.map((b) => [...b]), [[0xff, 0x00, 0x80, 0xfe], [1, 2, 3], [0, 0, 0, 0], []]);
      assert.ok(got.every((b) => b instanceof Uint8Array));
    });

    test('a 10 MiB blob and 300 blobs in one call (several chunks) round-trip', T, async () => {
      const j = job();
      await store.fence(j, 1);
      const big = patterned(10 * MiB, 7);
      assert.equal(await store.writeBlobs(j, 1, [{ name: 'big', bytes: big }]), 10 * MiB);
      // 300 x 40 KiB = 11.7 MiB: more than one write chunk and more than one MGET.
      const many = Array.from({ length: 300 }, (_, i) => ({ name: `ks/op/${i}/1-1-base`, bytes: patterned(40 * 1024 + i, i) }));
      const total = many.reduce((s, b) => s + b.bytes.byteLength, 0);
      assert.equal(await store.writeBlobs(j, 1, many), total);
      const [bigBack] = await store.readBlobs(j, ['big']);
      assert.ok(Buffer.from(bigBack).equals(big), '10 MiB blob differs');
      const reversed = [...many].reverse();
      const back = await store.readBlobs(j, reversed.map((b) => b.name));
      assert.equal(back.length, 300);
      back.forEach((b, i) => assert.ok(Buffer.from(b).equals(reversed[i].bytes), `blob ${reversed[i].name} differs`));
    });

    test('empty writes and reads need no fence and do nothing', T, async () => {
      const j = job();
      assert.equal(await store.writeBlobs(j, 1, []), 0);
      assert.deepEqual(await store.readBlobs(j, []), []);
      assert.deepEqual(await h.leftovers(j), []);
    });

    test('a missing blob is WEIR_SNAPSHOT_MISSING naming the first missing one', T, async () => {
      const j = job();
      await store.fence(j, 1);
      await store.writeBlobs(j, 1, [{ name: 'here', bytes: new Uint8Array([1]) }]);
      await rejectsWith(store.readBlobs(j, ['here', 'gone-1', 'here', 'gone-2']), 'WEIR_SNAPSHOT_MISSING', /'gone-1'/);
    });

    test('after fence(n+1) writes of attempt n are refused and n+1 writes', T, async () => {
      const j = job();
      await store.fence(j, 1);
      await store.writeBlobs(j, 1, [{ name: 'a', bytes: new Uint8Array([1]) }]);
      await store.fence(j, 2);
      await rejectsWith(store.writeBlobs(j, 1, [{ name: 'zombie', bytes: new Uint8Array([1]) }]), 'WEIR_SNAPSHOT_FENCED', /attempt 1\b.*attempt 2\b/);
      await rejectsWith(store.readBlobs(j, ['zombie']), 'WEIR_SNAPSHOT_MISSING');
      assert.equal(await store.writeBlobs(j, 2, [{ name: 'b', bytes: new Uint8Array([2, 2]) }]), 2);
      assert.deepEqual((await store.readBlobs(j, ['a', 'b'])).map((b) => [...b]), [[1], [2, 2]]);
      // A newer attempt than the fence is refused too: only the fenced attempt writes.
      await rejectsWith(store.writeBlobs(j, 3, [{ name: 'c', bytes: new Uint8Array([3]) }]), 'WEIR_SNAPSHOT_FENCED');
    });

    test('fence refuses a lower attempt, accepts the same one again, and writes need a fence', T, async () => {
      const j = job();
      await rejectsWith(store.writeBlobs(j, 1, [{ name: 'a', bytes: new Uint8Array([1]) }]), 'WEIR_SNAPSHOT_FENCED', /never/);
      await store.fence(j, 3);
      await rejectsWith(store.fence(j, 2), 'WEIR_SNAPSHOT_FENCED', /attempt 2\b.*attempt 3\b/);
      await store.fence(j, 3);
      assert.equal(await store.writeBlobs(j, 3, [{ name: 'a', bytes: new Uint8Array([1]) }]), 1);
      await store.fence(j, 4);
      await rejectsWith(store.writeBlobs(j, 3, [{ name: 'a', bytes: new Uint8Array([1]) }]), 'WEIR_SNAPSHOT_FENCED');
    });

    test('a blob over 256 MiB is WEIR_SNAPSHOT_TOO_LARGE and nothing of the call is written', T, async () => {
      const j = job();
      await store.fence(j, 1);
      const huge = new Uint8Array(256 * MiB + 1);
      await rejectsWith(
        store.writeBlobs(j, 1, [{ name: 'small', bytes: new Uint8Array([1]) }, { name: 'huge', bytes: huge }]),
        'WEIR_SNAPSHOT_TOO_LARGE',
        /'huge'/,
      );
      await rejectsWith(store.readBlobs(j, ['small']), 'WEIR_SNAPSHOT_MISSING');
    });

    test('commitCheckpoint is fenced', T, async () => {
      const j = job();
      await store.fence(j, 2);
      await rejectsWith(store.commitCheckpoint(j, 1, checkpoint(j, 1, 1)), 'WEIR_SNAPSHOT_FENCED', /attempt 1\b.*attempt 2\b/);
      assert.equal(await store.getCheckpoint(j, 1), undefined);
      assert.equal(await store.latestCheckpoint(j), undefined);
      assert.deepEqual(await store.listCheckpoints(j), []);
      await store.commitCheckpoint(j, 2, checkpoint(j, 1, 2));
      assert.deepEqual(await store.latestCheckpoint(j), checkpoint(j, 1, 2));
    });

    test('the latest pointer only moves forward; listCheckpoints is ascending by number', T, async () => {
      const j = job();
      await store.fence(j, 1);
      assert.equal(await store.latestCheckpoint(j), undefined);
      await store.commitCheckpoint(j, 1, checkpoint(j, 10, 1));
      await store.commitCheckpoint(j, 1, checkpoint(j, 2, 1));
      await store.commitCheckpoint(j, 1, checkpoint(j, 7, 1));
      assert.equal((await store.latestCheckpoint(j))?.id, 10);
      assert.deepEqual(await store.listCheckpoints(j), [2, 7, 10]);
      assert.deepEqual(await store.getCheckpoint(j, 7), checkpoint(j, 7, 1));
      assert.equal(await store.getCheckpoint(j, 8), undefined);
      await store.commitCheckpoint(j, 1, checkpoint(j, 11, 1));
      assert.equal((await store.latestCheckpoint(j))?.id, 11);
    });

    test('removeCheckpoints deletes metadata and moves latest back to the highest left', T, async () => {
      const j = job();
      await store.fence(j, 1);
      for (const id of [1, 2, 3, 4]) await store.commitCheckpoint(j, 1, checkpoint(j, id, 1));
      await store.removeCheckpoints(j, [1]);
      assert.deepEqual(await store.listCheckpoints(j), [2, 3, 4]);
      assert.equal((await store.latestCheckpoint(j))?.id, 4);
      assert.equal(await store.getCheckpoint(j, 1), undefined);
      await store.removeCheckpoints(j, [4, 3]);
      assert.equal((await store.latestCheckpoint(j))?.id, 2);
      await store.removeCheckpoints(j, [2, 99]);
      assert.equal(await store.latestCheckpoint(j), undefined);
      assert.deepEqual(await store.listCheckpoints(j), []);
      await store.removeCheckpoints(j, []);
      // With nothing left, a new commit becomes latest again whatever its id.
      await store.commitCheckpoint(j, 1, checkpoint(j, 1, 1));
      assert.equal((await store.latestCheckpoint(j))?.id, 1);
    });

    test('deleteBlobs removes only the named blobs', T, async () => {
      const j = job();
      await store.fence(j, 1);
      await store.writeBlobs(j, 1, ['a', 'b', 'c'].map((name) => ({ name, bytes: new Uint8Array([1]) })));
      await store.deleteBlobs(j, ['a', 'c', 'never-written']);
      await store.deleteBlobs(j, []);
      assert.equal((await store.readBlobs(j, ['b'])).length, 1);
      await rejectsWith(store.readBlobs(j, ['a']), 'WEIR_SNAPSHOT_MISSING');
      await rejectsWith(store.readBlobs(j, ['c']), 'WEIR_SNAPSHOT_MISSING');
    });

    test('deleteJob removes blobs, metadata, pointer and fencing token; other jobs stay', T, async () => {
      const j = job();
      const other = job();
      for (const id of [j, other]) {
        await store.fence(id, 5);
        // 3000 keys: Redis needs several SCAN rounds (COUNT 1000) to find them all.
        await store.writeBlobs(id, 5, Array.from({ length: 3000 }, (_, i) => ({ name: `ks/op/${i}/5-1-base`, bytes: new Uint8Array([i & 0xff]) })));
        await store.commitCheckpoint(id, 5, checkpoint(id, 1, 5));
      }
      assert.notDeepEqual(await h.leftovers(j), [], 'the job left nothing to delete: the check below would prove nothing');
      await store.deleteJob(j);
      assert.deepEqual(await h.leftovers(j), []);
      assert.equal(await store.latestCheckpoint(j), undefined);
      assert.deepEqual(await store.listCheckpoints(j), []);
      // The fencing token is gone as well: a lower attempt may fence again.
      await store.fence(j, 1);
      assert.equal((await store.latestCheckpoint(other))?.id, 1);
      assert.equal((await store.readBlobs(other, ['ks/op/0/5-1-base'])).length, 1);
      await store.deleteJob(j); // deleting what is not there is fine
    });
  });
}

describe('RedisSnapshotStore specifics', () => {
  let redis: Redis;
  let store: RedisSnapshotStore;
  before(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, connectTimeout: 2_000 });
    store = new RedisSnapshotStore(redis, { cluster: CLUSTER });
  });
  after(async () => {
    await store.deleteJob('layout');
    await redis.quit();
  });

  test('every key of a job shares the hash tag {cluster:job} and follows the layout', T, async () => {
    await store.fence('layout', 1);
    await store.writeBlobs('layout', 1, [{ name: 'ks/op/0/1-1-base', bytes: new Uint8Array([0, 1]) }]);
    await store.commitCheckpoint('layout', 1, checkpoint('layout', 3, 1));
    const p = `weir:{${CLUSTER}:layout}:`;
    assert.deepEqual((await scanAll(redis, `${p}*`)).sort(), [`${p}attempt`, `${p}blob:ks/op/0/1-1-base`, `${p}cp:3`, `${p}cps`, `${p}latest`]);
    assert.equal(await redis.get(`${p}attempt`), '1');
    assert.equal(await redis.get(`${p}latest`), '3');
    assert.deepEqual(await redis.zrange(`${p}cps`, 0, -1, 'WITHSCORES'), ['3', '3']);
    assert.deepEqual(JSON.parse((await redis.get(`${p}cp:3`))!), checkpoint('layout', 3, 1));
    assert.deepEqual([...(await redis.getBuffer(`${p}blob:ks/op/0/1-1-base`))!], [0, 1]);
  });

  test('a big write goes as plain SETs under staging keys, each chunk of at most ~8 MiB placed by a fenced script carrying no values; all sent before the first reply; nothing staged is left; small blobs go inline', T, async () => {
    const spied = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, connectTimeout: 2_000 });
    const p = `weir:{${CLUSTER}:chunks}:`;
    try {
      const spyStore = new RedisSnapshotStore(spied, { cluster: CLUSTER });
      await spyStore.fence('chunks', 1);
      const staged = new Map<string, number>(); // bytes SET per staging token
      const places: { staged: string[]; carried: number; sentBefore: number }[] = [];
      let replied = 0;
      onCommand(spied, (command) => {
        const args = command.args;
        if (command.name === 'set') {
          const key = String(args[0]);
          assert.ok(key.startsWith(`${p}stage:`), `a blob SET under its staging key: ${key}`);
          assert.ok(Buffer.isBuffer(args[1]), 'blob values must be sent as Buffers');
          assert.deepEqual(args.slice(2).map(String), ['PX', String(10 * 60_000)], 'staged blobs expire');
          const token = key.slice(`${p}stage:`.length).split(':')[0]!;
          staged.set(token, (staged.get(token) ?? 0) + (args[1] as Buffer).byteLength);
        } else if (command.name === 'evalsha' || command.name === 'eval') {
          const carried = args.reduce<number>((n, a) => n + (Buffer.isBuffer(a) ? a.byteLength : 0), 0);
          places.push({ staged: args.map(String).filter((a) => a.startsWith(`${p}stage:`)), carried, sentBefore: replied });
        } else return;
        command.promise.then(() => replied++, () => replied++);
      });
      // 20 x 1 MiB: at least 3 chunks of at most 8 MiB.
      const blobs = Array.from({ length: 20 }, (_, i) => ({ name: `b${i}`, bytes: patterned(MiB, i) }));
      assert.equal(await spyStore.writeBlobs('chunks', 1, blobs), 20 * MiB);
      assert.ok(places.length >= 3, `${places.length} script calls`);
      assert.ok(places.every((c) => c.carried === 0), 'the script carries no blob bytes');
      assert.equal(places.reduce((n, c) => n + c.staged.length, 0), 20, 'every staged blob is placed once');
      assert.ok([...staged.values()].every((b) => b <= 8 * MiB), `chunk sizes ${[...staged.values()].join(', ')}`);
      assert.equal([...staged.values()].reduce((n, b) => n + b, 0), 20 * MiB);
      assert.ok(places.every((c) => c.sentBefore === 0), 'a call waited for the reply of another');
      assert.deepEqual(await scanAll(redis, `${p}stage:*`), [], 'nothing staged is left');
      assert.deepEqual([...(await spyStore.readBlobs('chunks', ['b7']))[0]!], [...patterned(MiB, 7)]);
      // Small blobs: one fenced script with the values, nothing staged.
      const before = places.length;
      await spyStore.writeBlobs('chunks', 1, [{ name: 's1', bytes: new Uint8Array(100) }, { name: 's2', bytes: new Uint8Array(200) }]);
      assert.equal(places.length, before + 1);
      assert.equal(places.at(-1)!.carried, 300);
      assert.deepEqual(places.at(-1)!.staged, []);
    } finally {
      await new RedisSnapshotStore(spied, { cluster: CLUSTER }).deleteJob('chunks');
      await spied.quit();
    }
  });

  test('a name given twice in one write is written once, with its last bytes, as two SETs in a row would leave it (staged and inline)', T, async () => {
    try {
      await store.fence('twice', 1);
      for (const size of [8_000, 1]) {
        const [a1, b, a2] = [1, 5, 2].map((v) => new Uint8Array(size).fill(v));
        await store.writeBlobs('twice', 1, [{ name: 'a', bytes: a1! }, { name: 'b', bytes: b! }, { name: 'a', bytes: a2! }]);
        assert.deepEqual((await store.readBlobs('twice', ['a', 'b'])).map((x) => [x.length, x[0]]), [[size, 2], [size, 5]]);
      }
      assert.deepEqual(await scanAll(redis, `weir:{${CLUSTER}:twice}:stage:*`), []);
    } finally {
      await store.deleteJob('twice');
    }
  });

  test('a staged blob gone before the script runs (expired, evicted): WEIR_SNAPSHOT_STORE_UNAVAILABLE naming it, nothing of the write placed, nothing staged left', T, async () => {
    const spied = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, connectTimeout: 2_000 });
    const p = `weir:{${CLUSTER}:lost}:`;
    try {
      const spyStore = new RedisSnapshotStore(spied, { cluster: CLUSTER });
      await spyStore.fence('lost', 1);
      // The SET of blob b goes elsewhere, so the script finds its staged copy missing.
      onCommand(spied, (command) => {
        if (command.name === 'set' && String(command.args[0]).endsWith(':blob:b')) command.args[0] = `${p}elsewhere`;
      });
      const blobs = ['a', 'b', 'c'].map((name) => ({ name, bytes: new Uint8Array(10_000).fill(1) }));
      await rejectsWith(spyStore.writeBlobs('lost', 1, blobs), 'WEIR_SNAPSHOT_STORE_UNAVAILABLE', new RegExp(`staged copy of ${p.replace(/[{}]/g, '\\$&')}blob:b\\b`));
      assert.deepEqual((await scanAll(redis, `${p}*`)).sort(), [`${p}attempt`, `${p}elsewhere`]);
    } finally {
      await new RedisSnapshotStore(spied, { cluster: CLUSTER }).deleteJob('lost');
      await spied.quit();
    }
  });

  test('a fenced write leaves no key behind: its staged blobs are deleted by the script that refuses them', T, async () => {
    const p = `weir:{${CLUSTER}:zombie}:`;
    try {
      await store.fence('zombie', 2);
      await rejectsWith(store.writeBlobs('zombie', 1, [{ name: 'a', bytes: new Uint8Array([1]) }, { name: 'b', bytes: new Uint8Array(100_000) }]), 'WEIR_SNAPSHOT_FENCED');
      assert.deepEqual(await scanAll(redis, `${p}*`), [`${p}attempt`]);
    } finally {
      await store.deleteJob('zombie');
    }
  });

  test('an unreachable Redis is WEIR_SNAPSHOT_STORE_UNAVAILABLE naming the address, quickly', { timeout: 10_000 }, async () => {
    const down = new Redis({ host: '127.0.0.1', port: 1, maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: false });
    down.on('error', () => undefined); // the refused connection is expected; the store reports it
    const dead = new RedisSnapshotStore(down, { cluster: CLUSTER });
    const started = Date.now();
    try {
      await rejectsWith(dead.fence('j', 1), 'WEIR_SNAPSHOT_STORE_UNAVAILABLE', /127\.0\.0\.1:1\b/);
      await rejectsWith(dead.readBlobs('j', ['a']), 'WEIR_SNAPSHOT_STORE_UNAVAILABLE', /127\.0\.0\.1:1\b/);
      await rejectsWith(dead.latestCheckpoint('j'), 'WEIR_SNAPSHOT_STORE_UNAVAILABLE');
      assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
    } finally {
      down.disconnect();
    }
  });
});

describe('FileSnapshotStore specifics', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weir-snapshots-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('files follow the layout and no temporary file is left', T, async () => {
    const store = new FileSnapshotStore(dir);
    await store.fence('layout', 1);
    await store.writeBlobs('layout', 1, [{ name: 'ks/op/0/1-1-base', bytes: new Uint8Array([0, 1]) }]);
    await store.commitCheckpoint('layout', 1, checkpoint('layout', 3, 1));
    const job = join(dir, 'layout');
    assert.deepEqual((await readdir(job)).sort(), ['attempt', 'blobs', 'checkpoints', 'latest']);
    assert.deepEqual(await readdir(join(job, 'blobs')), [encodeURIComponent('ks/op/0/1-1-base')]);
    assert.deepEqual(await readdir(join(job, 'checkpoints')), ['3.json']);
  });

  test('a fence waits for blob writes in flight and refuses those that come after it', T, async () => {
    const store = new FileSnapshotStore(dir);
    await store.fence('race', 1);
    const blobs = Array.from({ length: 50 }, (_, i) => ({ name: `b${i}`, bytes: new Uint8Array(64 * 1024) }));
    const write = store.writeBlobs('race', 1, blobs);
    const fence = store.fence('race', 2);
    const late = store.writeBlobs('race', 1, [{ name: 'late', bytes: new Uint8Array([1]) }]);
    assert.equal(await write, 50 * 64 * 1024);
    await fence;
    await rejectsWith(late, 'WEIR_SNAPSHOT_FENCED');
    assert.equal((await store.readBlobs('race', blobs.map((b) => b.name))).length, 50);
  });
});

/** Bytes that differ per position and per seed, so a swapped or shifted blob is noticed. */
function patterned(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 17 + (i >>> 8)) & 0xff;
  return out;
}

function checkpoint(jobId: string, id: number, attempt: number): CompletedCheckpoint {
  return {
    formatVersion: 1,
    id,
    jobId,
    attempt,
    timestamp: 1_700_000_000_000 + id,
    completedAt: 1_700_000_000_500 + id,
    operators: { op: { maxParallelism: 128, parallelism: 2, keyGroups: { 0: [`ks/op/0/${attempt}-${id}-base`] }, operatorState: { 0: `os/op/0/${attempt}-${id}` } } },
    finished: [],
    stateBytes: 10,
    writtenBytes: 5,
  };
}
