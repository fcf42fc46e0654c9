/**
 * The job blobs a detached savepoint still refers to (its `references` key), and their copy into
 * the savepoint's own parts once it is recorded (RedisSavepointStore.copyReferences).
 */
import type { Redis } from 'ioredis';
import { WeirError } from '@weir/sdk';
import type { RedisJobKeys } from './redis-keys.js';
import { redisAddress } from './redis-util.js';
import type { RedisSavepointKeys } from './savepoint-redis-keys.js';

/**
 * KEYS[1] the references, then n job blobs, then the n savepoint parts they become; ARGV[1] '1' if
 * the references must still be stored (a disposal deletes them before the parts, so a copy never
 * makes parts of a savepoint being disposed), ARGV[2] a byte budget. COPY pairs in order until
 * their parts hold at least the budget (at least one pair); a part whose job blob is gone but
 * which exists was copied by an earlier try. {0, k} the first k pairs are done (k = n: all), {1}
 * no references any more, {2, i} pair i (from 1) cannot be made.
 */
const COPY_REFERENCES = `
if ARGV[1] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then return {1} end
local n = (#KEYS - 1) / 2
local budget = tonumber(ARGV[2])
local copied = 0
for i = 1, n do
  if redis.call('COPY', KEYS[1 + i], KEYS[1 + n + i], 'REPLACE') ~= 1 and redis.call('EXISTS', KEYS[1 + n + i]) == 0 then return {2, i} end
  copied = copied + redis.call('STRLEN', KEYS[1 + n + i])
  if copied >= budget then return {0, i} end
end
return {0, n}`;

/**
 * Bytes one COPY_REFERENCES call copies at most (plus one blob): a script blocks every other
 * client of Redis while it runs. One call for a whole savepoint of 1M keys (10-20 MB) blocked Redis
 * for 26-55 ms, running jobs' checkpoint writes included; calls of a MiB took 4-10 ms on the busy
 * bench machine (bench/README.md, "Where a savepoint's time goes, end to end; the copy in in steps").
 */
const COPY_BUDGET_BYTES = 512 * 1024;
/** Pairs the first COPY_REFERENCES call is given; later calls twice as many as the last one copied, at least this many and at most MAX_PAIRS. */
const COPY_FIRST_PAIRS = 16;
/** Pairs one call is given at most. */
const MAX_PAIRS = 1000;

/** SavepointReferences as stored: `copies` as [from, to] pairs. */
export interface StoredReferences {
  readonly jobId: string;
  readonly copies: readonly (readonly [string, string])[];
}

/** The stored references of savepoint `id`, checked: WEIR_SNAPSHOT_CORRUPT if they are not what the record step wrote. */
export function parseReferences(id: string, json: string): StoredReferences {
  let refs: unknown;
  try {
    refs = JSON.parse(json);
  } catch {
    refs = undefined;
  }
  const r = refs as Partial<StoredReferences> | undefined;
  const pair = (p: unknown): boolean => Array.isArray(p) && p.length === 2 && p.every((n) => typeof n === 'string');
  if (typeof r?.jobId !== 'string' || !Array.isArray(r.copies) || !r.copies.every(pair)) {
    throw new WeirError('WEIR_SNAPSHOT_CORRUPT', `savepoint ${id}: the list of job blobs it refers to does not read (${json.slice(0, 80)}); it cannot be made whole`);
  }
  return r as StoredReferences;
}

/**
 * COPY each referenced job blob into its savepoint part, one script after the other, each stopping
 * after COPY_BUDGET_BYTES, so that other clients are served in between; `stored`: only while the
 * references are stored (not once a disposal began: then it stops, making nothing more).
 * WEIR_SNAPSHOT_MISSING if a job blob is gone and its part was not copied before.
 */
export async function copyReferencePairs(redis: Redis, id: string, keys: RedisSavepointKeys, job: RedisJobKeys, refs: StoredReferences, stored: boolean): Promise<void> {
  const pairs = refs.copies;
  // Each call copies at least one pair, so there are at most as many calls as pairs. A call is
  // given about twice the pairs the last one copied: the keys of pairs it does not reach are sent for nothing.
  let give = COPY_FIRST_PAIRS;
  for (let at = 0; at < pairs.length; ) {
    const part = pairs.slice(at, at + give);
    const [code, detail] = (await redis.eval(COPY_REFERENCES, 1 + 2 * part.length, keys.references, ...part.map(([from]) => job.blob(from)), ...part.map(([, to]) => keys.blob(to)), stored ? '1' : '0', COPY_BUDGET_BYTES)) as [number, number?];
    if (code === 1) return; // disposed meanwhile
    if (code === 2) {
      const [from, to] = part[detail! - 1]!;
      throw new WeirError('WEIR_SNAPSHOT_MISSING', `blob '${from}' of job ${refs.jobId} is missing (${redisAddress(redis)}), and savepoint ${id}'s part '${to}' was to be copied from it; the savepoint cannot be restored`);
    }
    if (code !== 0 || !Number.isInteger(detail) || detail! < 1 || detail! > part.length) throw new Error(`unexpected reply ${JSON.stringify([code, detail])} to the copy of savepoint ${id}'s parts`);
    at += detail!;
    give = Math.min(MAX_PAIRS, Math.max(COPY_FIRST_PAIRS, 2 * detail!));
  }
}
