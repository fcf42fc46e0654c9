import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { packValue, unpackValue } from '../state/snapshot-strategy.js';
import { doneIntervals, fileRange, fileSource, subtractIntervals } from './file-source.js';
import { generatorSource } from './generator.js';
import { jetstreamSource } from './jetstream.js';
import { isDone, rescaledProgress, resumeShare, type SplitGeneration } from './split-progress.js';
import { seededRandom } from '@weir/sdk/connectors';
import { RescaledPositions, type ConnectorContext, type SourceReader } from './types.js';

const NATS = process.env.WEIR_NATS_URL ?? 'nats://127.0.0.1:4222';

/** Deterministic pseudo-random numbers, so a failing chain can be replayed. */
const rng = (seed: number): (() => number) => seededRandom(seed, 0);

const ctxOf = (subtask: number, parallelism: number, nats?: () => Promise<NatsConnection>): ConnectorContext => ({
  subtask,
  parallelism,
  operatorUid: 'src',
  jobId: 'job',
  redisUrl: '',
  log: pino({ level: 'silent' }),
  nats: nats ?? (async () => assert.fail('no NATS here')),
});

/** Through the checkpoint encoding, as a restore sees it (proves positions are plain data). */
const roundTrip = (position: unknown): unknown => unpackValue('p', new Map([['p', packValue(position)]]));

type Open = (ctx: ConnectorContext, position: unknown) => Promise<SourceReader>;

/** Poll until `n` records came (or the input ended); returns them. */
async function take(reader: SourceReader, n: number): Promise<unknown[]> {
  const out: unknown[] = [];
  while (out.length < n) {
    const b = await reader.poll(Math.min(7, n - out.length));
    if (b === null) break;
    out.push(...b);
  }
  return out;
}

/**
 * Run a source through a chain of parallelisms: in every generation but the last each subtask
 * reads a random part of what it has (some nothing, some all), checkpoints, fails over (restored
 * from its own position) and reads a bit more; the last generation drains. Returns every record.
 */
async function runChain(open: Open, chain: readonly number[], random: () => number, rest = 40): Promise<unknown[]> {
  const seen: unknown[] = [];
  let positions: unknown[] | undefined;
  let oldP = 0;
  for (let g = 0; g < chain.length; g++) {
    const p = chain[g]!;
    const last = g === chain.length - 1;
    const next: unknown[] = [];
    for (let k = 0; k < p; k++) {
      const restored = positions ? roundTrip(new RescaledPositions(oldP, positions.map(roundTrip))) : undefined;
      let reader = await open(ctxOf(k, p), restored);
      if (last) {
        seen.push(...(await take(reader, Infinity)));
        await reader.close();
        continue;
      }
      const r = random();
      seen.push(...(await take(reader, r < 0.2 ? 0 : r > 0.85 ? Infinity : Math.floor(random() * rest))));
      let position = roundTrip(reader.position());
      await reader.close();
      // Failover at the same parallelism: the position alone must carry whatever still matters.
      reader = await open(ctxOf(k, p), position);
      seen.push(...(await take(reader, Math.floor(random() * 5))));
      position = roundTrip(reader.position());
      await reader.close();
      next.push(position);
    }
    positions = next;
    oldP = p;
  }
  return seen;
}

function assertExactlyOnce(seen: readonly unknown[], expected: readonly unknown[], what: string): void {
  const counts = new Map<unknown, number>();
  for (const s of seen) counts.set(s, (counts.get(s) ?? 0) + 1);
  const twice = [...counts].filter(([, n]) => n > 1).map(([s]) => s);
  const lost = expected.filter((e) => !counts.has(e));
  const extra = [...counts.keys()].filter((s) => !expected.includes(s));
  assert.deepEqual({ twice: twice.slice(0, 5), lost: lost.slice(0, 5), extra: extra.slice(0, 5) }, { twice: [], lost: [], extra: [] }, what);
  assert.equal(seen.length, expected.length, what);
}

const CHAINS: readonly (readonly number[])[] = [
  [2, 3, 1],
  [1, 8, 3],
  [3, 2, 3, 1],
  [4, 2, 6, 5, 7],
  [8, 1, 8],
  [5, 5, 2],
];

describe('split progress (pure)', () => {
  test('a generation marks idx done iff idx < n_(idx mod P) or its prior does', () => {
    const older: SplitGeneration = { p: 2, subtasks: [10, 3] };
    const gen: SplitGeneration = { p: 3, subtasks: [{ next: 6, prior: older }, 0, null] };
    const done = Array.from({ length: 14 }, (_, i) => i).filter((i) => isDone(gen, i));
    // class 0 mod 3: below 6 -> 0, 3; older: evens < 10 -> 0, 6; odds < 3 -> 3 (class 0 only)
    // classes 1, 2 mod 3: nothing of their own, and no prior
    assert.deepEqual(done, [0, 3, 6]);
  });

  test('resumed shares skip exactly what is done; positions drop the prior once passed', () => {
    const random = rng(7);
    for (let round = 0; round < 300; round++) {
      const P = 1 + Math.floor(random() * 8);
      const q = 1 + Math.floor(random() * 8);
      const N = 200;
      const older: SplitGeneration = { p: 1 + Math.floor(random() * 8), subtasks: [] };
      (older.subtasks as number[]).push(...Array.from({ length: older.p }, () => Math.floor(random() * N)));
      const subtasks = Array.from({ length: P }, () => (random() < 0.5 ? Math.floor(random() * N) : { next: Math.floor(random() * N), prior: older }));
      const gen = { p: P, subtasks };
      const covered = new Set<number>();
      for (let k = 0; k < q; k++) {
        const { share, next } = resumeShare(k, q, 0, rescaledProgress(0, P, subtasks));
        for (let i = next; i < N; i = share.firstPending(i + q)) {
          assert.equal(i % q, k);
          assert.equal(isDone(gen, i), false, `${i} is done but was handed out`);
          covered.add(i);
        }
        assert.equal(typeof share.progress(N + 1000), 'number', 'past everything: a plain number');
      }
      for (let i = 0; i < N; i++) assert.equal(covered.has(i), !isDone(gen, i), `index ${i} (P=${P}, q=${q})`);
    }
  });
});

describe('generator source across rescales', () => {
  const N = 997;
  const all = Array.from({ length: N }, (_, i) => i);
  const open: Open = (ctx, position) => generatorSource({ count: N, seed: 1, make: (i) => i }, ctx, position);

  test('positions stay plain numbers without a rescale (old checkpoints restore)', async () => {
    const r = await open(ctxOf(1, 3), undefined);
    await take(r, 10);
    assert.equal(r.position(), 31);
    const again = await open(ctxOf(1, 3), 31);
    assert.deepEqual(await take(again, 2), [31, 34]);
  });

  for (const chain of CHAINS) {
    test(`chain ${chain.join(' -> ')}: every index exactly once`, async () => {
      for (let seed = 1; seed <= 5; seed++) assertExactlyOnce(await runChain(open, chain, rng(seed * 31 + chain.length)), all, `seed ${seed}`);
    });
  }

  test('random chains', async () => {
    const random = rng(2024);
    for (let round = 0; round < 40; round++) {
      const chain = Array.from({ length: 2 + Math.floor(random() * 4) }, () => 1 + Math.floor(random() * 8));
      assertExactlyOnce(await runChain(open, chain, random, 200), all, `chain ${chain.join(' -> ')}`);
    }
  });

  test('a rescaled reader that made no progress checkpoints the old positions as they were', async () => {
    const first = await open(ctxOf(0, 2), undefined);
    await take(first, 5);
    const positions = [first.position(), 1];
    const r = await open(ctxOf(0, 3), new RescaledPositions(2, positions));
    const p = r.position() as { next: number; prior: SplitGeneration };
    assert.equal(typeof p, 'object');
    assert.equal(p.prior.p, 2);
  });

  test('an unbounded generator keeps going after the prior', async () => {
    const unbounded: Open = (ctx, position) => generatorSource({ seed: 1, make: (i) => i }, ctx, position);
    const r = await unbounded(ctxOf(0, 1), new RescaledPositions(2, [10, 1]));
    assert.deepEqual(await take(r, 8), [1, 3, 5, 7, 9, 10, 11, 12]);
    assert.equal(r.position(), 13);
  });
});

describe('file source across rescales', () => {
  let dir: string;
  let path: string;
  let lines: string[];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'weir-split-'));
    path = join(dir, 'in.txt');
    const random = rng(99);
    lines = Array.from({ length: 700 }, (_, i) => `l${i}:${'xü'.repeat(Math.floor(random() * (random() < 0.05 ? 400 : 12)))}`);
    // The last line has no newline; one is CRLF.
    writeFileSync(path, lines.map((l, i) => (i === 3 ? `${l}\r\n` : i === lines.length - 1 ? l : `${l}\n`)).join(''));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const open: Open = (ctx, position) => fileSource({ path }, ctx, position);

  test('intervals: done parts of a range and what is left', () => {
    assert.deepEqual(doneIntervals(50, [10, 40]), [[10, 40]]);
    assert.deepEqual(doneIntervals(5, [10, 40]), []);
    assert.deepEqual(doneIntervals({ next: 20, done: [[25, 30], [38, 90]] }, [10, 40]), [[10, 20], [25, 30], [38, 40]]);
    assert.deepEqual(subtractIntervals([0, 100], [[10, 20], [15, 30], [90, 120]]), [[0, 10], [30, 90]]);
    assert.deepEqual(subtractIntervals([0, 100], [[0, 100]]), []);
    assert.deepEqual(fileRange(10, 2, 3), [6, 10]);
  });

  test('positions stay plain numbers without a rescale', async () => {
    const r = await open(ctxOf(0, 2), undefined);
    await take(r, 3);
    assert.equal(typeof r.position(), 'number');
  });

  for (const chain of CHAINS) {
    test(`chain ${chain.join(' -> ')}: every line exactly once`, async () => {
      for (let seed = 1; seed <= 4; seed++) assertExactlyOnce(await runChain(open, chain, rng(seed * 17 + chain.length), 120), lines, `seed ${seed}`);
    });
  }

  test('random chains', async () => {
    const random = rng(77);
    for (let round = 0; round < 25; round++) {
      const chain = Array.from({ length: 2 + Math.floor(random() * 4) }, () => 1 + Math.floor(random() * 8));
      assertExactlyOnce(await runChain(open, chain, random, 150), lines, `chain ${chain.join(' -> ')}`);
    }
  });
});

describe('JetStream source across rescales (real NATS)', { timeout: 120_000 }, () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const id = randomBytes(4).toString('hex');
  const streams: string[] = [];
  before(async () => {
    nc = await connect({ servers: NATS });
    jsm = await jetstreamManager(nc);
  });
  after(async () => {
    for (const s of streams) await jsm.streams.delete(s).catch(() => undefined);
    await nc.close();
  });
  const stream = async (name: string, messages: number): Promise<string> => {
    const n = `T_rescale_${name}_${id}`;
    streams.push(n);
    await jsm.streams.add({ name: n, subjects: [`t.${id}.${name}`] });
    for (let i = 1; i <= messages; i++) nc.publish(`t.${id}.${name}`, `m${i}`);
    await nc.flush();
    return n;
  };

  test('chains 2 -> 3 -> 1 and 1 -> 8 -> 3: every message exactly once; bound carries over', async () => {
    const s = await stream('chain', 400);
    const expected = Array.from({ length: 400 }, (_, i) => `m${i + 1}`);
    const open: Open = (ctx, position) => jetstreamSource({ stream: s, bounded: true }, { ...ctxOf(ctx.subtask, ctx.parallelism), nats: async () => nc }, position);
    assertExactlyOnce(await runChain(open, [2, 3, 1], rng(5), 60), expected, '2 -> 3 -> 1');
    assertExactlyOnce(await runChain(open, [1, 8, 3], rng(6), 60), expected, '1 -> 8 -> 3');
    // Messages after the first start are outside the bound, also after a rescale.
    const first = await open(ctxOf(0, 2), undefined);
    await take(first, 10);
    const positions = [roundTrip(first.position()), undefined];
    await first.close();
    for (let i = 0; i < 5; i++) nc.publish(`t.${id}.chain`, 'late');
    await nc.flush();
    const seen: unknown[] = [];
    for (let k = 0; k < 3; k++) {
      const r = await open(ctxOf(k, 3), new RescaledPositions(2, positions));
      seen.push(...(await take(r, Infinity)));
      await r.close();
    }
    assertExactlyOnce(seen, expected.slice(20).concat(expected.slice(0, 20).filter((_, i) => i % 2 === 0)), 'bounded after a rescale');
  });
});
