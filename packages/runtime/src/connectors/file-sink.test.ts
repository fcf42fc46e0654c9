import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { WeirError } from '@weir/sdk';
import { fileSink as fileSinkSpec } from '@weir/sdk/connectors';
import { fileSink, type FileSinkConfig, type FileSinkTransaction } from './file-sink.js';
import { FINAL_TRANSACTION, isTransactional, type ConnectorContext, type TransactionalSinkWriter } from './types.js';

const ctx = (subtask = 0): ConnectorContext => ({
  subtask,
  parallelism: 4,
  operatorUid: 'out',
  jobId: 'job',
  redisUrl: 'redis://127.0.0.1:6379',
  log: pino({ level: 'silent' }),
  nats: () => Promise.reject(new Error('the file sink uses no NATS')),
});

type Writer = TransactionalSinkWriter<FileSinkTransaction>;

async function open(options: FileSinkConfig, subtask = 0): Promise<Writer> {
  const w = await fileSink(options, ctx(subtask));
  assert.ok(isTransactional(w));
  return w as Writer;
}

const visible = (dir: string): string[] => readdirSync(dir).filter((f) => !f.startsWith('.')).sort();
const hidden = (dir: string): string[] => readdirSync(dir).filter((f) => f.startsWith('.')).sort();
const linesOf = (dir: string, files: readonly string[]): string[] => files.flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => l !== ''));

async function checkpoint(w: Writer, id: number): Promise<FileSinkTransaction> {
  const pre = w.preCommit(id);
  await pre.durable;
  return pre.txn;
}

const code = (c: string, pattern?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof WeirError, `a WeirError, got ${String(e)}`);
  assert.equal(e.code, c);
  if (pattern) assert.match(e.message, pattern);
  return true;
};

describe('file sink', () => {
  let root: string;
  let n = 0;
  const fresh = () => join(root, `t${n++}`);
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'weir-file-sink-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('exactly-once: nothing visible before commit; after it the finished files hold exactly the records; a second commit is a no-op', async () => {
    const dir = fresh();
    const w = await open({ directory: dir });
    await w.write([{ a: 1 }, 'two']);
    await w.write([3]);
    assert.deepEqual(visible(dir), [], 'nothing visible while in progress');
    assert.equal(hidden(dir).length, 1);
    assert.match(hidden(dir)[0]!, /^\.part-0-\d+-[0-9a-f]{8}-0\.inprogress$/);
    const txn = await checkpoint(w, 7);
    assert.deepEqual(txn.files.map((f) => f.final), ['part-0-0000000007-0']);
    assert.deepEqual(visible(dir), [], 'nothing visible before the checkpoint completes');
    assert.match(hidden(dir)[0]!, /\.pending$/, 'pre-committed: pending');
    await w.write(['after the barrier']); // the next transaction
    await w.commit(7, txn, 0);
    assert.deepEqual(visible(dir), ['part-0-0000000007-0']);
    assert.equal(readFileSync(join(dir, 'part-0-0000000007-0'), 'utf8'), '{"a":1}\ntwo\n3\n');
    await w.commit(7, txn, 0);
    assert.deepEqual(visible(dir), ['part-0-0000000007-0']);
    assert.equal(readFileSync(join(dir, 'part-0-0000000007-0'), 'utf8'), '{"a":1}\ntwo\n3\n', 'committing again changes nothing');
    const next = await checkpoint(w, 8);
    await w.commit(8, next, 0);
    assert.deepEqual(linesOf(dir, visible(dir)), ['{"a":1}', 'two', '3', 'after the barrier']);
    assert.deepEqual(hidden(dir), []);
    await w.close();
  });

  test('exactly-once: an empty transaction makes no file', async () => {
    const dir = fresh();
    const w = await open({ directory: dir });
    const pre = w.preCommit(1);
    assert.deepEqual(pre.txn, { files: [] });
    assert.equal(pre.durable, undefined, 'nothing to wait for');
    await pre.durable;
    await w.commit(1, pre.txn, 0);
    await w.write([]);
    await w.commit(2, await checkpoint(w, 2), 0);
    assert.deepEqual(readdirSync(dir), []);
    await w.close();
  });

  test('exactly-once: rolling by size gives several files in one transaction, in order', async () => {
    const dir = fresh();
    const w = await open({ directory: dir, rolloverBytes: 20, prefix: 'out', format: (v) => `line ${String(v)}` }, 2);
    const records = Array.from({ length: 12 }, (_, i) => i);
    for (let i = 0; i < records.length; i += 2) await w.write(records.slice(i, i + 2)); // 14 bytes a batch: a roll every 2 batches
    const txn = await checkpoint(w, 3);
    assert.deepEqual(
      txn.files.map((f) => f.final),
      ['out-2-0000000003-0', 'out-2-0000000003-1', 'out-2-0000000003-2'],
    );
    assert.deepEqual(visible(dir), []);
    await w.commit(3, txn, 0);
    assert.deepEqual(visible(dir), txn.files.map((f) => f.final));
    assert.deepEqual(linesOf(dir, visible(dir)), records.map((r) => `line ${r}`));
    for (const f of visible(dir)) assert.equal(readFileSync(join(dir, f), 'utf8').split('\n').length - 1, 4, `${f}: 4 lines`);
    await w.close();
  });

  test('exactly-once: a part open longer than rolloverMs is rolled at the next write', async () => {
    const dir = fresh();
    const w = await open({ directory: dir, rolloverMs: 40 });
    await w.write(['a']);
    await w.write(['b']); // young: same part
    await sleep(60);
    await w.write(['c']); // old: rolled first
    const txn = await checkpoint(w, 1);
    assert.equal(txn.files.length, 2);
    await w.commit(1, txn, 0);
    assert.deepEqual(visible(dir).map((f) => readFileSync(join(dir, f), 'utf8')), ['a\nb\n', 'c\n']);
    await w.close();
  });

  test('exactly-once: recover() drops in-progress and unnamed pending files of this subtask only, then the restored transaction commits', async () => {
    const dir = fresh();
    const a = await open({ directory: dir }, 1);
    await a.write(['one', 'two']);
    const t1 = await checkpoint(a, 1); // completed: restored
    await a.write(['three']);
    await checkpoint(a, 2); // pre-committed, never completed
    await a.write(['four']); // in progress
    await a.close(); // the attempt fails
    assert.equal(hidden(dir).length, 3);
    // Files the recovery must not touch: another subtask's, another prefix's, finished ones.
    const others = ['.part-11-1-0000abcd-0.inprogress', '.part-10-1-0000abcd-0.pending', '.other-1-1-0000abcd-0.inprogress', 'part-1-0000000000-0'];
    for (const f of others) writeFileSync(join(dir, f), 'x\n');

    const b = await open({ directory: dir }, 1);
    await b.recover!([{ checkpointId: 1, txn: t1 }]);
    assert.deepEqual(hidden(dir), [t1.files[0]!.pending, ...others.filter((f) => f.startsWith('.'))].sort());
    await b.commit(1, t1, 0);
    assert.equal(readFileSync(join(dir, 'part-1-0000000001-0'), 'utf8'), 'one\ntwo\n');
    // The replay after the restored checkpoint.
    await b.write(['three', 'four']);
    await b.commit(2, await checkpoint(b, 2), 0);
    assert.deepEqual(linesOf(dir, visible(dir).filter((f) => f !== 'part-1-0000000000-0')), ['one', 'two', 'three', 'four']);
    for (const f of others) assert.ok(existsSync(join(dir, f)), `${f} untouched`);
    await b.close();
  });

  test('exactly-once: the final transaction of a bounded input is named …-final-<k>, and commits without waiting for the checkpoint', async () => {
    const dir = fresh();
    const w = await open({ directory: dir, rolloverBytes: 4 });
    await w.write(['abc']);
    await w.write(['def']);
    const pre = w.preCommit(FINAL_TRANSACTION);
    await w.commit(FINAL_TRANSACTION, pre.txn, 0); // without awaiting durable first
    await pre.durable;
    assert.deepEqual(visible(dir), ['part-0-final-0', 'part-0-final-1']);
    assert.deepEqual(linesOf(dir, visible(dir)), ['abc', 'def']);
    await w.close();
  });

  test('exactly-once: a pre-committed file that vanished before its commit fails with WEIR_SINK_FILE_LOST', async () => {
    const dir = fresh();
    const w = await open({ directory: dir });
    await w.write(['x']);
    const txn = await checkpoint(w, 5);
    await rm(join(dir, txn.files[0]!.pending));
    await assert.rejects(w.commit(5, txn, 0), code('WEIR_SINK_FILE_LOST', /part-0-0000000005-0/));
    await w.close();
  });

  test('at-least-once: appends to <prefix>-<subtask> across writer instances (a restart)', async () => {
    const dir = fresh();
    const first = await open({ directory: dir, delivery: 'at-least-once' }, 3);
    await first.write(['a', 'b']);
    assert.deepEqual(readdirSync(dir), ['part-3'], 'visible at once, nothing hidden');
    const pre = first.preCommit(1);
    await pre.durable;
    await first.commit(1, pre.txn, 0);
    await first.write(['c']);
    await first.close();
    const second = await open({ directory: dir, delivery: 'at-least-once' }, 3);
    await second.write(['c', 'd']); // the replay: duplicates, nothing lost
    await second.close();
    assert.equal(readFileSync(join(dir, 'part-3'), 'utf8'), 'a\nb\nc\nc\nd\n');
    assert.deepEqual(readdirSync(dir), ['part-3']);
  });

  test('a directory that cannot be created fails at open with WEIR_SINK_FILE_UNWRITABLE naming the path', async () => {
    const file = join(root, `regular-${n++}`);
    writeFileSync(file, 'not a directory');
    const dir = join(file, 'out');
    for (const delivery of ['exactly-once', 'at-least-once'] as const) {
      await assert.rejects(fileSink({ directory: dir, delivery }, ctx()), code('WEIR_SINK_FILE_UNWRITABLE', new RegExp(`file sink 'out' cannot write '${dir}': .*ENOTDIR`)));
    }
  });

  test('invalid options fail with WEIR_SINK_OPTIONS_INVALID, in the SDK and in the runtime', async () => {
    const dir = fresh();
    const bad: Partial<FileSinkConfig>[] = [{ delivery: 'twice' as never }, { rolloverBytes: 0 }, { rolloverMs: -1 }, { prefix: '' }, { prefix: '.hidden' }, { prefix: 'a/b' }];
    for (const b of bad) {
      assert.throws(() => fileSinkSpec({ directory: dir, ...b }), code('WEIR_SINK_OPTIONS_INVALID'), JSON.stringify(b));
      await assert.rejects(fileSink({ directory: dir, ...b }, ctx()), code('WEIR_SINK_OPTIONS_INVALID'), JSON.stringify(b));
    }
    assert.equal((fileSinkSpec({ directory: dir }).options as FileSinkConfig).delivery, 'exactly-once', 'the default');
    assert.equal(existsSync(dir), false, 'nothing created');
  });
});
