/**
 * bench:checkpoints, part 2 — the cost of incremental snapshots at component level, in this
 * process, against the real Redis: a HeapKeyedState of N keys (one value state), a full snapshot
 * (first capture: every key group writes a base), then checkpoints after updating 1% of the keys
 * (deltas), each written with RedisSnapshotStore.writeBlobs; then a restore of the last checkpoint's
 * chains into a fresh state, checked against the live one.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { HeapKeyedState, RedisSnapshotStore, type OperatorSubtaskSnapshot } from '@weir/runtime';
import { valueState } from '@weir/sdk';
// Not exported by @weir/runtime's entry point: the worker's own snapshot code, from its build.
import { SnapshotStrategy } from '../../packages/runtime/dist/state/snapshot-strategy.js';
import { bytes, ms, prng, type Resources } from './checkpoints-common.js';
import { int, median, withTimeout } from './util.js';

export interface IncrementalOptions {
  readonly redisUrl: string;
  readonly keys: number;
  /** Keys updated before each delta checkpoint. */
  readonly updates: number;
  /** Delta checkpoints after the full one. */
  readonly deltas: number;
  readonly maxParallelism: number;
  readonly log: (line?: string) => void;
}

export interface SnapshotFigures {
  readonly checkpointId: number;
  readonly kind: 'full' | 'delta';
  readonly blobs: number;
  /** Blobs that are full bases of their key group (the rest are deltas). */
  readonly bases: number;
  readonly writtenBytes: number;
  /** Bytes of the whole state the checkpoint describes (bases + deltas of every chain). */
  readonly stateBytes: number;
  readonly syncMs: number;
  readonly asyncMs: number;
}

export interface IncrementalResult {
  readonly full: SnapshotFigures;
  readonly deltas: SnapshotFigures[];
  /** median delta bytes / full snapshot bytes */
  readonly ratio: number;
  readonly restore: { blobs: number; bytes: number; readMs: number; applyMs: number; keys: number; checked: number };
}

const UID = 'bench';
const ATTEMPT = 1;
const key = (i: number) => `k${i}`;

export async function measureIncremental(o: IncrementalOptions, resources: Resources): Promise<IncrementalResult> {
  const { log } = o;
  const cluster = `benchinc${randomBytes(4).toString('hex')}`;
  const jobId = 'incremental';
  const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: 3, lazyConnect: true });
  await withTimeout(redis.connect(), 10_000, `connecting to ${o.redisUrl}`);
  const store = new RedisSnapshotStore(redis, { cluster });
  const resource = resources.add({
    what: `snapshot store ${cluster}`,
    stop: async () => {
      await store.deleteJob(jobId).catch((e) => console.error(`bench: deleting ${cluster}/${jobId}: ${String(e)}`));
      redis.disconnect();
    },
    killNow: () => redis.disconnect(),
  });
  try {
    log(`incremental snapshots: HeapKeyedState of ${int(o.keys)} keys (one value state), maxParallelism ${o.maxParallelism}, SnapshotStrategy(maxDeltaChain 10),`);
    log(`  RedisSnapshotStore at ${o.redisUrl} (cluster id ${cluster}); then ${o.deltas} checkpoints after updating ${int(o.updates)} random keys each`);
    const decls = { count: valueState(0) };
    const live = new HeapKeyedState(decls, o.maxParallelism, true);
    const fillStarted = performance.now();
    for (let i = 0; i < o.keys; i++) {
      live.setCurrentKey(key(i));
      live.write('count', i);
    }
    log(`  filled ${int(live.size)} keys in ${ms(performance.now() - fillStarted)} (not counted)`);
    await store.fence(jobId, ATTEMPT);
    const strategy = new SnapshotStrategy(live, UID, 0, 10);

    let snapshot: OperatorSubtaskSnapshot | undefined;
    const checkpoint = async (id: number, kind: 'full' | 'delta'): Promise<SnapshotFigures> => {
      const t0 = performance.now();
      const captured = strategy.capture(ATTEMPT, id);
      const t1 = performance.now();
      const written = await store.writeBlobs(jobId, ATTEMPT, captured.blobs);
      const t2 = performance.now();
      if (written !== captured.writtenBytes) throw new Error(`checkpoint ${id}: the store wrote ${written} bytes, the capture made ${captured.writtenBytes}`);
      snapshot = captured.snapshot;
      const f: SnapshotFigures = { checkpointId: id, kind, blobs: captured.blobs.length, bases: captured.blobs.filter((b) => b.name.endsWith('-base')).length, writtenBytes: written, stateBytes: captured.stateBytes, syncMs: t1 - t0, asyncMs: t2 - t1 };
      log(`  checkpoint ${id} (${kind}): ${f.blobs} blobs (${f.bases} bases), ${bytes(f.writtenBytes)} written (${int(f.writtenBytes)} B), state ${bytes(f.stateBytes)}; sync (capture) ${ms(f.syncMs)}, async (Redis write) ${ms(f.asyncMs)}`);
      return f;
    };

    const full = await checkpoint(1, 'full');
    const random = prng(42);
    const deltas: SnapshotFigures[] = [];
    for (let d = 0; d < o.deltas; d++) {
      // `updates` distinct keys, each incremented.
      const picked = new Set<number>();
      while (picked.size < Math.min(o.updates, o.keys)) picked.add(Math.floor(random() * o.keys));
      for (const i of picked) {
        live.setCurrentKey(key(i));
        live.write('count', (live.read('count') as number) + 1);
      }
      deltas.push(await checkpoint(2 + d, 'delta'));
    }

    // Restore: read every blob of the last checkpoint's chains, rebuild a fresh state.
    const last = snapshot!;
    const names = SnapshotStrategy.blobsToRead(last, () => true);
    const r0 = performance.now();
    const blobs = await store.readBlobs(jobId, names);
    const r1 = performance.now();
    const restored = new HeapKeyedState(decls, o.maxParallelism, true);
    new SnapshotStrategy(restored, UID, 0, 10).restore(last, () => true, new Map(names.map((n, i) => [n, blobs[i]!])));
    const r2 = performance.now();
    const readBytes = blobs.reduce((n, b) => n + b.length, 0);
    const checked = compare(live, restored);
    const restore = { blobs: names.length, bytes: readBytes, readMs: r1 - r0, applyMs: r2 - r1, keys: restored.size, checked };
    log(`  restore of checkpoint ${1 + o.deltas}: ${names.length} blobs, ${bytes(readBytes)} read from Redis in ${ms(restore.readMs)}, decoded and applied in ${ms(restore.applyMs)} = ${ms(restore.readMs + restore.applyMs)}; ${int(restore.keys)} keys, all ${int(checked)} values equal to the live state`);

    const ratio = median(deltas.map((d) => d.writtenBytes)) / full.writtenBytes;
    return { full, deltas, ratio, restore };
  } finally {
    await resources.release(resource, 30_000);
  }
}

/** Every key and value of `live` must be in `restored` and vice versa; returns the keys compared, throws on a difference. */
function compare(live: HeapKeyedState, restored: HeapKeyedState): number {
  if (restored.size !== live.size) throw new Error(`restore: ${restored.size} keys restored, the live state has ${live.size}`);
  let checked = 0;
  const wrong: string[] = [];
  for (const [group, rows] of live.groups) {
    const other = restored.groups.get(group);
    if (!other || other.size !== rows.size) throw new Error(`restore: key group ${group} has ${other?.size ?? 0} keys restored, ${rows.size} live`);
    for (const [id, row] of rows) {
      checked++;
      if (other.get(id)?.count !== row.count && wrong.length < 5) wrong.push(`${id}: ${String(other.get(id)?.count)} != ${String(row.count)}`);
    }
  }
  if (wrong.length > 0) throw new Error(`restore: values differ from the live state, e.g. ${wrong.join(', ')}`);
  return checked;
}
