/**
 * SavepointCompactor over a real FileSavepointStore (a temp directory): it compacts a savepoint
 * with parts only after the quiet delay, restarts the delay for every savepoint offered meanwhile,
 * leaves single-part savepoints alone, and stops without finishing when the coordinator stops.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FileSavepointStore, FileSnapshotStore, keyGroupBlob, newSavepointId, type CompletedCheckpoint, type SavepointMetadata } from '@weir/runtime';
import { Packr } from 'msgpackr';
import pino from 'pino';
import { SavepointCompactor } from './compactor.js';

const packr = new Packr({ moreTypes: true });
const dirs: string[] = [];
// The compactor's timer does not keep a process alive (a coordinator has other handles): this test does.
const alive = setInterval(() => undefined, 1000);
after(async () => {
  clearInterval(alive);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function stores() {
  const dir = await mkdtemp(join(tmpdir(), 'weir-compactor-'));
  dirs.push(dir);
  const snapshots = new FileSnapshotStore(dir);
  return { snapshots, savepoints: new FileSavepointStore(dir, snapshots) };
}

/** A detached savepoint of `jobId` whose key group 0 is a base, a delta and a tail (3 parts) when `parted`, else one base. */
async function savepoint(s: Awaited<ReturnType<typeof stores>>, jobId: string, parted: boolean): Promise<SavepointMetadata> {
  const base = keyGroupBlob('count', 0, 1, 1, 'base');
  const delta = keyGroupBlob('count', 0, 1, 2, 'delta');
  await s.snapshots.fence(jobId, 1);
  await s.snapshots.writeBlobs(jobId, 1, [
    { name: base, bytes: packr.pack({ v: 1, base: true, flat: ['a', { n: 1 }, 'b', { n: 2 }] }) },
    { name: delta, bytes: packr.pack({ v: 1, base: false, flat: ['a', { n: 3 }] }) },
  ]);
  const id = newSavepointId();
  await s.savepoints.prepare(id, 1);
  const chain = parted ? [base, delta] : [base];
  const tail = parted ? packr.pack({ v: 1, base: false, flat: ['c', { n: 4 }] }) : undefined;
  await s.snapshots.writeSavepointChains(jobId, id, 1, [{ name: 'ks/count/0', chain, ...(tail ? { tail } : {}) }]);
  const parts = parted ? ['ks/count/0', 'ks/count/0/1', 'ks/count/0/2'] : ['ks/count/0'];
  const taken: CompletedCheckpoint = {
    formatVersion: 1, id: 3, jobId, attempt: 1, timestamp: 1, completedAt: 2, finished: [], stateBytes: 0, writtenBytes: 0,
    operators: { count: { parallelism: 1, maxParallelism: 4, keyGroups: { 0: parts }, operatorState: {} } },
  };
  return s.savepoints.complete(id, taken, { jobId, jobName: 'j', jobVersion: '1', reason: 'manual', operators: { count: { kind: 'actor', keyed: true } } });
}

const log = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a savepoint with parts is compacted once no savepoint was offered for the quiet delay; others are left alone', { timeout: 20_000 }, async () => {
  const s = await stores();
  const compactor = new SavepointCompactor(s.savepoints, log, 300);
  const first = await savepoint(s, 'job-a', true);
  const single = await savepoint(s, 'job-b', false);
  compactor.offer(first);
  compactor.offer(single);
  await sleep(200);
  const second = await savepoint(s, 'job-c', true);
  compactor.offer(second); // restarts the quiet delay
  await sleep(200);
  assert.equal((await s.savepoints.get(first.id))!.compactedAt, undefined, 'not within the delay of the last offer');
  await compactor.idle();
  for (const sp of [first, second]) {
    const m = (await s.savepoints.get(sp.id))!;
    assert.equal(typeof m.compactedAt, 'number', sp.id);
    assert.equal(m.operators.count!.keyGroupParts, undefined);
  }
  assert.deepEqual(await s.savepoints.get(single.id), single, 'one part each: nothing to do');
  await compactor.stop();
});

test('a sweep finds savepoints left with parts; stop() ends the compactor without compacting what is queued', { timeout: 20_000 }, async () => {
  const s = await stores();
  const left = await savepoint(s, 'job-d', true);
  const compactor = new SavepointCompactor(s.savepoints, log, 10_000);
  await compactor.sweep();
  await compactor.stop();
  await compactor.idle();
  assert.equal((await s.savepoints.get(left.id))!.compactedAt, undefined);
  const next = new SavepointCompactor(s.savepoints, log, 0);
  await next.sweep();
  await next.idle();
  assert.equal(typeof (await s.savepoints.get(left.id))!.compactedAt, 'number');
  await next.stop();
});
