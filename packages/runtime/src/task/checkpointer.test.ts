/**
 * When a detached savepoint's check of the chains is sent, relative to the subtask's earlier
 * checkpoint write whose blobs the chains name: with a store that serves calls in order (Redis),
 * as soon as that write was sent; with one that does not (a directory), once it answered.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import pino from 'pino';
import { defineActor, valueState, type OperatorNode } from '@weir/sdk';
import type { BlobWrite, ChainedBlobWrite, SnapshotStore } from '../snapshots/types.js';
import { Checkpointer, type CheckpointReport } from './checkpointer.js';
import { createOperator, type ActorRuntimeContext } from './operators.js';

const log = pino({ level: 'silent' });
const counter = defineActor({
  state: { n: valueState(0) },
  onMessage(_k: string, { state }) {
    state.n.set(state.n.get() + 1);
  },
});
const node = { id: 0, uid: 'count', name: 'count', kind: 'actor', parallelism: 1, maxParallelism: 8, chaining: true, keyed: true, inputs: [{ key: (k: string) => k }], actor: counter } as unknown as OperatorNode;
const rt: ActorRuntimeContext = { args: {} as never, subtask: 0, parallelism: 1, log, maxDeltaChain: 4, wakeAt() {}, fail: (e) => assert.fail(e as Error) };
const bytesOf = (blobs: readonly BlobWrite[]) => blobs.reduce((n, b) => n + b.bytes.byteLength, 0);

/** A store whose checkpoint writes answer only once released; it records when each call is made and answered. */
function holdingStore(ordered: boolean) {
  const events: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const store = {
    ordered,
    async writeBlobs(_job: string, _attempt: number, blobs: readonly BlobWrite[]) {
      events.push('checkpoint write sent');
      await held;
      events.push('checkpoint write answered');
      return bytesOf(blobs);
    },
    async writeSavepointBlobs(_id: string, _attempt: number, blobs: readonly BlobWrite[]) {
      events.push(`savepoint blobs sent: ${blobs.map((b) => b.name).join(', ')}`);
      return bytesOf(blobs);
    },
    async writeSavepointChains(_job: string, _id: string, _attempt: number, writes: readonly ChainedBlobWrite[]) {
      events.push(`chains sent: ${writes.map((w) => `${w.chain.join('+')}${w.tail ? ' with its tail' : ''}`).join(', ')}`);
      // As a store answers: the bytes of every part, 100 a chain blob here, and the tails.
      return writes.reduce((n, w) => n + 100 * w.chain.length + (w.tail?.byteLength ?? 0), 0);
    },
  } as unknown as SnapshotStore;
  return { store, events, release };
}

for (const ordered of [true, false]) {
  test(`a detached savepoint's chains are checked ${ordered ? 'once the earlier checkpoint write is sent (ordered store)' : 'once the earlier checkpoint write answered'}`, async () => {
    const { store, events, release } = holdingStore(ordered);
    const op = createOperator(node, rt);
    const reports: CheckpointReport[] = [];
    const cp = new Checkpointer({ jobId: 'job', attempt: 1, subtask: 0, store, operators: [op], writers: [], log, report: (r) => reports.push(r), fail: (e) => assert.fail(e as Error) });
    for (const k of ['a', 'b', 'c']) op.process(k, 0);
    cp.perform({ id: 1, timestamp: 0, full: false }, 0);
    op.process('a', 0);
    cp.perform({ id: 2, timestamp: 0, full: true, savepoint: 'sp-0123456789abcdef' }, 0);
    for (let i = 0; i < 5; i++) await turn();
    const chains = events.filter((e) => e.startsWith('chains sent'));
    assert.equal(chains.length > 0, ordered, `events: ${events.join(' | ')}`);
    assert.ok(chains.every((e) => e.includes('-1-base')), 'the chains name the held checkpoint\'s blobs');
    // The tail of key 'a' (changed since) goes with the check on an ordered store, at once on another.
    const tails = events.filter((e) => e.startsWith('savepoint blobs sent') || e.includes('with its tail'));
    assert.equal(tails.length, 1, `events: ${events.join(' | ')}`);
    assert.ok(ordered ? tails[0]!.startsWith('chains sent') : tails[0]!.startsWith('savepoint blobs sent: ks/count/'), tails[0]);
    // (Redis answers the check only after the write it follows; this store answers at once.)
    assert.deepEqual(reports.map((r) => [r.kind, r.checkpointId]), ordered ? [['ack', 2]] : [], 'the savepoint waits for its check');
    release();
    for (let i = 0; i < 5; i++) await turn();
    const answered = events.indexOf('checkpoint write answered');
    const checked = events.findIndex((e) => e.startsWith('chains sent'));
    assert.ok(checked > events.indexOf('checkpoint write sent'), `behind the write: ${events.join(' | ')}`);
    assert.ok(ordered ? checked < answered : checked > answered, `events: ${events.join(' | ')}`);
    assert.deepEqual(reports.map((r) => [r.kind, r.checkpointId]).sort(), [['ack', 1], ['ack', 2]]);
    // The ack's figures: savepointBytes what the store holds or refers to, writtenBytes what was sent.
    const ack = reports.find((r) => r.checkpointId === 2)!;
    assert.ok(ack.kind === 'ack');
    const counted = ack.snapshot.operators.count!;
    const chainBlobs = Object.values(counted.savepointChains ?? {}).reduce((n, c) => n + c.length, 0);
    assert.ok(chainBlobs > 0);
    assert.ok(ack.stats.writtenBytes > 0, 'the tail was sent');
    assert.equal(counted.savepointBytes, 100 * chainBlobs + ack.stats.writtenBytes);
  });
}
