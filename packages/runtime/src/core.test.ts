import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Unpackr } from 'msgpackr';
import pino from 'pino';
import { buildJob, defineActor, defineJob, valueState } from '@weir/sdk';
import { discard, generator } from '@weir/sdk/connectors';
import { fileSource } from './connectors/file-source.js';
import { generatorSource } from './connectors/generator.js';
import type { ConnectorContext } from './connectors/types.js';
import { decodeFrame, encodeBarrier, encodeEnd, encodeRecords, FrameKind, frameSeq } from './frames.js';
import { hashKeyId, keyGroupOf, keyGroupRange, keyId, subtaskForKeyGroup } from './keygroups.js';
import { planExecution, receiversOf, sendersOf } from './plan.js';
import { HeapKeyedState } from './state/heap-keyed-state.js';

const KEYS = ['the', 'ümlaut', '', 'a-much-longer-key-with-spaces and things', 0, 42, -7, 1.5, ['user', 7]] as const;

test('key -> key group -> subtask: pinned values, ranges cover every group once for p = 1..8', () => {
  // Pinned: a change of the hash function would move every key's state; this must fail loudly.
  assert.deepEqual(['the', 'of', 'word', 'ümlaut'].map((k) => keyGroupOf(keyId(k), 128)), KEYS_PINNED);
  for (let p = 1; p <= 8; p++) {
    const owner = new Array(128).fill(-1);
    for (let i = 0; i < p; i++) {
      const r = keyGroupRange(128, p, i);
      for (let g = r.start; g <= r.end; g++) {
        assert.equal(owner[g], -1, `group ${g} owned twice at p=${p}`);
        owner[g] = i;
        assert.equal(subtaskForKeyGroup(g, 128, p), i);
      }
    }
    assert.ok(owner.every((o) => o >= 0), `every group owned at p=${p}`);
  }
  assert.notEqual(keyId(1), keyId('1'), 'number and string keys differ');
});
const KEYS_PINNED = [95,89,94,103];

test('key groups are the same in another process', () => {
  const mod = fileURLToPath(new URL('./keygroups.js', import.meta.url));
  const script = `import { keyGroupOf, keyId } from ${JSON.stringify(mod)}; console.log(JSON.stringify(${JSON.stringify(KEYS)}.map((k) => keyGroupOf(keyId(k), 128))));`;
  const other = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
  assert.deepEqual(other, KEYS.map((k) => keyGroupOf(keyId(k as never), 128)));
  assert.equal(hashKeyId('the'), 2792985055);
});

const counter = defineActor({ state: { n: valueState(0) }, onMessage(w: string, { state }) { state.n.set(state.n.get() + 1); return w; } });

test('chaining: forward + equal parallelism chains; keyBy, parallelism change, chaining:false and unions break chains', () => {
  const { description } = buildJob(defineJob({ name: 'c' }, (env) => {
    const s = env.source(generator({ count: 1 }), { uid: 'src' }).flatMap((l) => l.split(' '), { uid: 'split' });
    const counted = s.keyBy((w) => w).actor(counter, { uid: 'count' }).map((w) => w, { uid: 'after' });
    counted.map((w) => w, { uid: 'solo', chaining: false }).map((w) => w, { uid: 'narrow', parallelism: 1 }).sink(discard(), { uid: 'o1', parallelism: 1 });
    counted.union(s).sink(discard(), { uid: 'o2' });
  }), { parallelism: 2 });
  const plan = planExecution(description);
  const taskOf = (uid: string) => plan.taskOfNode[description.nodes.find((n) => n.uid === uid)!.id];
  assert.equal(taskOf('src'), taskOf('split'));
  assert.notEqual(taskOf('split'), taskOf('count'));
  assert.equal(taskOf('count'), taskOf('after'));
  assert.notEqual(taskOf('after'), taskOf('solo'));
  assert.notEqual(taskOf('solo'), taskOf('narrow'));
  assert.equal(taskOf('narrow'), taskOf('o1'));
  assert.notEqual(taskOf('o2'), taskOf('after'), 'a union target is not chained');
  const hash = plan.edges.find((e) => e.partitioning === 'hash')!;
  assert.deepEqual([hash.senders, hash.receivers, hash.chained], [2, 2, false]);
  assert.deepEqual(receiversOf(hash, 0), [0, 1]);
  const rebalance = plan.edges.find((e) => e.partitioning === 'rebalance')!;
  assert.deepEqual(sendersOf(rebalance, 0), [0, 1]);
  const forward = plan.edges.find((e) => e.partitioning === 'forward' && !e.chained)!;
  assert.deepEqual(receiversOf(forward, 1), [1]);
});

test('planning: each task gets its network edges in edge order, and a chain of 10,000 unchained operators plans in linear time', () => {
  const { description } = buildJob(defineJob({ name: 'e' }, (env) => {
    const a = env.source(generator({ count: 1 }), { uid: 'a' });
    const b = env.source(generator({ count: 1 }), { uid: 'b' }).rebalance().map((x) => x, { uid: 'bm' });
    const u = a.union(b).keyBy((x) => x).actor(counter, { uid: 'count' });
    u.sink(discard(), { uid: 'o1', chaining: false });
    u.union(a).sink(discard(), { uid: 'o2' });
  }), { parallelism: 2 });
  const plan = planExecution(description);
  for (const t of plan.tasks) {
    assert.deepEqual(t.inputs, plan.edges.filter((e) => !e.chained && e.toTask === t.id), `inputs of task ${t.id}`);
    assert.deepEqual(t.outputs, plan.edges.filter((e) => !e.chained && e.fromTask === t.id), `outputs of task ${t.id}`);
  }
  const n = 10_000;
  const nodes = Array.from({ length: n }, (_, i) => ({ id: i, uid: `n${i}`, name: `n${i}`, kind: i === 0 ? 'source' : i === n - 1 ? 'sink' : 'map', parallelism: 1, maxParallelism: 1, chaining: false, keyed: false, inputs: i === 0 ? [] : [{ from: i - 1, partitioning: 'forward' }] }));
  // The largest graph validateGraph allows. Planning is linear (about 15 ms here); a scan of all
  // edges per task took 550 ms (and 20 s at 50,000 operators). Speed is not asserted here.
  const big = planExecution({ apiVersion: 1, name: 'big', version: '1', nodes } as never);
  assert.equal(big.tasks.length, n);
  assert.deepEqual(big.tasks[5]!.inputs.map((e) => e.fromTask), [4]);
  assert.deepEqual(big.tasks[n - 1]!.inputs.map((e) => e.fromTask), [n - 2]);
});

test('frames: encode/decode round trip, readable by a fresh decoder', () => {
  const records = [{ word: 'a', n: 1 }, { word: 'b', n: 2 }, 'text', 42, [1, 'x'], { nested: { deep: [true, null] } }];
  const bytes = encodeRecords(7, records);
  const f = decodeFrame(bytes);
  assert.equal(f.kind, FrameKind.Records);
  assert.equal(f.seq, 7);
  assert.deepEqual(f.kind === FrameKind.Records ? f.records : null, records);
  assert.deepEqual(new Unpackr().unpack(bytes), [0, 7, records]);
  assert.deepEqual(decodeFrame(encodeEnd(8)), { kind: FrameKind.End, seq: 8 });
  for (const barrier of [{ id: 3, timestamp: 99, full: false }, { id: 4, timestamp: 100, full: true }, { id: 5, timestamp: 101, full: true, savepoint: 'sp-00112233aabbccdd' }]) {
    assert.deepEqual(decodeFrame(encodeBarrier(9, barrier)), { kind: FrameKind.Barrier, seq: 9, barrier });
  }
  for (const seq of [0, 1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32 + 5]) {
    assert.equal(frameSeq(encodeRecords(seq, ['x'])), seq, `header seq ${seq}`);
    assert.equal(frameSeq(encodeEnd(seq)), seq, `end seq ${seq}`);
  }
});

test('heap keyed state: per-key isolation, key groups, no-key error', () => {
  const s = new HeapKeyedState({ n: { kind: 'value', initial: 0 } }, 128, true);
  s.setCurrentKey('a');
  s.write('n', 1);
  s.setCurrentKey('b');
  assert.equal(s.read('n'), undefined);
  s.write('n', 2);
  s.setCurrentKey('a');
  assert.equal(s.read('n'), 1);
  assert.equal(s.size, 2);
  assert.ok(s.groups.get(keyGroupOf('a', 128))!.has('a'));
  s.remove('n');
  assert.equal(s.size, 1);
  s.clearCurrentKey();
  assert.throws(() => s.read('n'), (e: { code?: string }) => e.code === 'WEIR_STATE_NO_KEY');
});

const ctx = (subtask: number, parallelism: number): ConnectorContext => ({ subtask, parallelism, operatorUid: 'src', jobId: 'j', redisUrl: 'redis://127.0.0.1:6379', log: pino({ level: 'silent' }), nats: () => Promise.reject(new Error('no nats')) });
async function readAll(reader: { poll(n: number): Promise<unknown[] | null>; close(): Promise<void> }): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < 100_000; i++) {
    const b = await reader.poll(100);
    if (b === null) break;
    out.push(...b);
  }
  await reader.close();
  return out;
}

test('file source: parallel subtasks read every line exactly once', { timeout: 20_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-fs-'));
  try {
    const lines = Array.from({ length: 5000 }, (_, i) => (i % 97 === 0 ? '' : i % 89 === 0 ? `ünï ${i} ✓` : `line ${i} ${'x'.repeat(i % 50)}`));
    for (const [name, text] of [['nl.txt', lines.join('\n') + '\n'], ['no-nl.txt', lines.join('\n')]] as const) {
      writeFileSync(join(dir, name), text);
      for (let p = 1; p <= 4; p++) {
        const all: unknown[] = [];
        for (let i = 0; i < p; i++) all.push(...(await readAll(await fileSource({ path: join(dir, name) }, ctx(i, p)))));
        assert.deepEqual([...all].sort(), [...lines].sort(), `${name} at p=${p}`);
      }
    }
    await assert.rejects(fileSource({ path: join(dir, 'missing') }, ctx(0, 1)), (e: { code?: string }) => e.code === 'WEIR_SOURCE_FILE_UNREADABLE');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('generator source: deterministic, subtasks split the indexes', async () => {
  const make = (i: number, r: () => number) => `${i}:${r().toFixed(6)}`;
  const once = async () => {
    const all: unknown[] = [];
    for (let i = 0; i < 3; i++) all.push(...(await readAll(await generatorSource({ count: 1000, seed: 5, make }, ctx(i, 3)))));
    return all;
  };
  const a = await once();
  assert.equal(a.length, 1000);
  assert.deepEqual(new Set(a.map((x) => Number(String(x).split(':')[0]))).size, 1000);
  assert.deepEqual(a, await once());
});
