import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import type { OperatorNode } from '@weir/sdk';
import { FINAL_TRANSACTION, type PreCommitted, type TransactionalSinkWriter } from '../connectors/types.js';
import { createOperator, type ActorRuntimeContext } from './operators.js';

const log = pino({ level: 'silent' });
const node = { id: 0, uid: 'out', name: 'out', kind: 'sink', parallelism: 1, maxParallelism: 128, chaining: true, keyed: false, inputs: [] } as unknown as OperatorNode;
const rt: ActorRuntimeContext = { args: {} as never, subtask: 0, parallelism: 1, log, maxDeltaChain: 4, wakeAt() {}, fail: (e) => assert.fail(e as Error) };

/** A transactional writer whose commits wait until `release` is called: a commit that lags behind the checkpoints. */
function slowWriter(): { writer: TransactionalSinkWriter<number>; commits: number[]; release: () => void } {
  const commits: number[] = [];
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const writer: TransactionalSinkWriter<number> = {
    write() {},
    preCommit: (cp): PreCommitted<number> => ({ txn: cp }),
    commit: async (cp) => {
      await gate;
      commits.push(cp);
    },
    close: async () => {},
  };
  return { writer, commits, release: open };
}

describe('SinkOp commits', () => {
  test('a notification that arrives while an earlier commit runs does not commit that transaction again', async () => {
    const { writer, commits, release } = slowWriter();
    const sink = createOperator(node, rt, writer);
    sink.snapshotState!(1, 1, 'incremental');
    sink.snapshotState!(1, 2, 'incremental');
    sink.notifyCheckpointComplete!(1); // its commit waits on the gate: still pending
    sink.snapshotState!(1, 3, 'incremental');
    sink.notifyCheckpointComplete!(2);
    sink.notifyCheckpointComplete!(3);
    release();
    await sink.finish!();
    assert.deepEqual(commits, [1, 2, 3, FINAL_TRANSACTION]);
  });

  test('a detached savepoint pre-commits nothing: the open transaction goes into the next checkpoint', async () => {
    const { writer, commits, release } = slowWriter();
    release();
    const sink = createOperator(node, rt, writer);
    sink.snapshotState!(1, 1, 'incremental');
    const sp = sink.snapshotState!(1, 2, 'savepoint');
    assert.deepEqual(sp.blobs.map((b) => b.name), ['os/out/0'], 'written under its canonical name');
    assert.equal(sp.durable, undefined);
    sink.snapshotState!(1, 3, 'incremental');
    sink.notifyCheckpointComplete!(3);
    await sink.finish!();
    assert.deepEqual(commits, [1, 3, FINAL_TRANSACTION], 'no transaction for the savepoint');
  });

  test('a transaction stays in the checkpoints until its commit returns', async () => {
    const { writer, commits, release } = slowWriter();
    const sink = createOperator(node, rt, writer);
    sink.snapshotState!(1, 1, 'incremental');
    sink.notifyCheckpointComplete!(1);
    // Checkpoint 2 is taken while commit 1 runs: a restore from it must commit 1 again.
    const stored = sink.snapshotState!(1, 2, 'incremental');
    const again: number[] = [];
    const w2: TransactionalSinkWriter<number> = { write() {}, preCommit: (cp) => ({ txn: cp }), commit: async (cp) => void again.push(cp), close: async () => {} };
    const r2 = createOperator(node, rt, w2);
    r2.restoreState!({ keyGroups: {}, operatorState: stored.blobs[0]!.name }, new Map(stored.blobs.map((b) => [b.name, b.bytes])));
    await r2.afterRestore!();
    assert.deepEqual(again, [1, 2]);
    // The same state carried for a subtask that had finished (it committed everything then): nothing again.
    const late: number[] = [];
    const w3: TransactionalSinkWriter<number> = { ...w2, commit: async (cp) => void late.push(cp) };
    const r3 = createOperator(node, rt, w3);
    r3.restoreState!({ keyGroups: {}, operatorState: stored.blobs[0]!.name }, new Map(stored.blobs.map((b) => [b.name, b.bytes])));
    await r3.afterRestore!({ finishedBefore: true });
    assert.deepEqual(late, []);
    release();
    await sink.finish!();
    assert.deepEqual(commits, [1, 2, FINAL_TRANSACTION]);
  });

  test('after a rescale, old subtask j\'s transactions are committed by new subtask j mod p, unless old subtask j had finished', async () => {
    // Old parallelism 3: each old subtask holds one pre-committed transaction (checkpoint 7).
    const oldNode = { ...node, parallelism: 3 } as OperatorNode;
    const blobs = new Map<string, Uint8Array>();
    const names = [0, 1, 2].map((j) => {
      const { writer } = slowWriter();
      const old = createOperator(oldNode, { ...rt, subtask: j, parallelism: 3 }, writer);
      const stored = old.snapshotState!(1, 7, 'incremental');
      for (const b of stored.blobs) blobs.set(b.name, b.bytes);
      return stored.blobs[0]!.name;
    });
    const newNode = { ...node, parallelism: 2 } as OperatorNode;
    const committedBy = async (k: number, finished?: number[]) => {
      const origins: number[] = [];
      const w: TransactionalSinkWriter<number> = { write() {}, preCommit: (cp) => ({ txn: cp }), commit: async (_cp, _txn, origin) => void origins.push(origin), close: async () => {} };
      const op = createOperator(newNode, { ...rt, subtask: k, parallelism: 2 }, w);
      op.restoreState!({ keyGroups: {}, rescaledFrom: { parallelism: 3, operatorStates: names, ...(finished ? { finished } : {}) } }, blobs);
      await op.afterRestore!();
      return origins;
    };
    assert.deepEqual([await committedBy(0), await committedBy(1)], [[0, 2], [1]]);
    // Old subtask 2 had finished: it committed what it held when it finished, and a repeat could
    // outlive a JetStream duplicate window or fail on moved files.
    assert.deepEqual([await committedBy(0, [2]), await committedBy(1, [2])], [[0], [1]]);
  });

  test('input waits while more than one completed checkpoint awaits its commit, and goes on once one is committed', async () => {
    const { writer, commits, release } = slowWriter();
    const sink = createOperator(node, rt, writer);
    const settled = (p: Promise<void> | void) => {
      let done = false;
      void Promise.resolve(p).then(() => (done = true));
      return () => done;
    };
    for (const cp of [1, 2, 3]) sink.snapshotState!(1, cp, 'incremental');
    sink.notifyCheckpointComplete!(1);
    sink.process('a', 0);
    assert.equal(sink.afterBatch!(), undefined, 'one due commit: no wait');
    sink.notifyCheckpointComplete!(2);
    sink.process('b', 0);
    const waited = sink.afterBatch!();
    assert.ok(waited instanceof Promise, 'two due commits: the batch waits');
    const done = settled(waited);
    await new Promise((r) => setImmediate(r));
    assert.equal(done(), false, 'still waiting while every commit is held');
    release();
    await waited;
    assert.deepEqual(commits.slice(0, 1), [1]);
    sink.notifyCheckpointComplete!(3);
    await sink.finish!();
    assert.deepEqual(commits, [1, 2, 3, FINAL_TRANSACTION]);
  });
});
