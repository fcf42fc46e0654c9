import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { commitMarkerStream } from '@weir/runtime';
import { Redis } from 'ioredis';
import { REDIS_URL, waitFor, withNats } from './harness.js';

/**
 * Create `stream` on `subject` and publish `records` seeded keys with a skewed distribution
 * (k0 … k4999); returns the expected count per key.
 */
/** `records` keys of `keySpace` (default 5,000; skewed towards the low ones) into a new stream; the count of each. */
export async function publishKeys(stream: string, subject: string, records: number, keySpace = 5000): Promise<Map<string, number>> {
  const expected = new Map<string, number>();
  let seed = 12345;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  await withNats(async (nc) => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [subject] });
    for (let i = 0; i < records; i++) {
      const key = `k${Math.floor(random() ** 2 * keySpace)}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
      nc.publish(subject, key);
      if (i % 10_000 === 9_999) await nc.flush();
    }
    await nc.flush();
    await waitFor('all keys stored', async () => ((await jsm.streams.info(stream)).state.messages === records ? true : undefined), 60_000, 200);
  });
  return expected;
}

/** Delete a stream, and the commit markers exactly-once JetStream sinks kept beside it. */
export async function deleteStream(stream: string): Promise<void> {
  await withNats(async (nc) => {
    const jsm = await jetstreamManager(nc);
    for (const name of [stream, commitMarkerStream(stream)]) await jsm.streams.delete(name).catch(() => undefined);
  });
}

/** Every update a keyed count of `expected` emits, `key:n` for n = 1..count, with multiplicity 1. */
export function expectedUpdates(expected: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, n] of expected) for (let i = 1; i <= n; i++) out.set(`${k}:${i}`, 1);
  return out;
}

/** How often each line occurs. */
export function multiset(lines: Iterable<string>): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of lines) m.set(l, (m.get(l) ?? 0) + 1);
  return m;
}

/** Publish these keys to a subject of an existing stream, in order, and wait until the stream holds `total` messages. */
export async function publishMore(stream: string, subject: string, keys: readonly string[], total: number): Promise<void> {
  await withNats(async (nc) => {
    for (let i = 0; i < keys.length; i++) {
      nc.publish(subject, keys[i]!);
      if (i % 10_000 === 9_999) await nc.flush();
    }
    await nc.flush();
    const jsm = await jetstreamManager(nc);
    await waitFor('all keys stored', async () => ((await jsm.streams.info(stream)).state.messages === total ? true : undefined), 60_000, 200);
  });
}

/** A Redis hash of counts (field -> number). */
export async function readHash(hash: string, url = REDIS_URL): Promise<Map<string, number>> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    return new Map(Object.entries(await redis.hgetall(hash)).map(([k, v]) => [k, Number(v)]));
  } finally {
    redis.disconnect();
  }
}

/** Every key has exactly its expected count, and there are no others. */
export function assertExact(got: Map<string, number>, expected: Map<string, number>): void {
  assert.equal(got.size, expected.size, 'number of keys');
  let wrong = 0;
  for (const [k, n] of expected) if (got.get(k) !== n) wrong++;
  assert.equal(wrong, 0, `keys with a wrong count (e.g. ${[...expected].filter(([k, n]) => got.get(k) !== n).slice(0, 3).map(([k, n]) => `${k}: ${got.get(k)} != ${n}`).join(', ')})`);
}
