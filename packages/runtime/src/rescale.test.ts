import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { defineActor, listState, mapState, valueState, type Key, type OperatorNode, type StateDecls } from '@weir/sdk';
import { RescaledPositions, type PreCommitted, type TransactionalSinkWriter } from './connectors/types.js';
import { keyGroupOf, keyGroupRange, keyId, subtaskForKeyGroup } from './keygroups.js';
import type { CompletedCheckpoint, OperatorSnapshot, SnapshotStore } from './snapshots/types.js';
import { HeapKeyedState, type StateRow } from './state/heap-keyed-state.js';
import { redistributeRow, type Redistribution } from './state/redistribute.js';
import { SnapshotStrategy } from './state/snapshot-strategy.js';
import { Checkpointer } from './task/checkpointer.js';
import { createOperator, type ActorRuntimeContext, type OperatorInstance, type SourceOp } from './task/operators.js';

const MAX = 128;
const log = pino({ level: 'silent' });

describe('keyed state: key groups redistribute for every old/new parallelism 1..8', () => {
  const KEYS: Key[] = Array.from({ length: 5000 }, (_, i) => (i % 3 === 0 ? i : i % 3 === 1 ? `k${i}` : ['u', i]));
  const valueOf = (k: Key) => `v:${keyId(k)}`;
  const decls: StateDecls = { v: { kind: 'value', initial: undefined }, l: { kind: 'list' } };

  /** Capture at parallelism p: a full base, then deltas (changes and removals), as a job would. */
  function capture(p: number): { keyGroups: Record<number, string[]>; blobs: Map<string, Uint8Array>; removed: Set<string> } {
    const keyGroups: Record<number, string[]> = {};
    const blobs = new Map<string, Uint8Array>();
    const removed = new Set<string>();
    for (let i = 0; i < p; i++) {
      const state = new HeapKeyedState(decls, MAX, true);
      const strategy = new SnapshotStrategy(state, 'op', i, 4);
      const mine = KEYS.filter((k) => subtaskForKeyGroup(keyGroupOf(keyId(k), MAX), MAX, p) === i);
      for (const k of mine) {
        state.setCurrentKey(k);
        state.write('v', 'stale');
      }
      const snaps = [strategy.capture(1, 1)];
      mine.forEach((k, n) => {
        state.setCurrentKey(k);
        if (n % 50 === 7) {
          state.remove('v');
          removed.add(keyId(k));
        } else {
          state.write('v', valueOf(k));
          state.write('l', [n]);
        }
      });
      snaps.push(strategy.capture(1, 2));
      for (const s of snaps) for (const b of s.blobs) blobs.set(b.name, b.bytes);
      // Subtasks own disjoint key groups: their chains merge into the operator's snapshot.
      for (const [g, chain] of Object.entries(snaps[1]!.snapshot.keyGroups)) {
        assert.equal(keyGroups[Number(g)], undefined, `group ${g} captured twice`);
        keyGroups[Number(g)] = [...chain];
      }
    }
    return { keyGroups, blobs, removed };
  }

  test('every key in exactly one new subtask, the right one, with its value; ranges cover 0..127 once', () => {
    for (let p = 1; p <= 8; p++) {
      const old = capture(p);
      for (let q = 1; q <= 8; q++) {
        const where = new Map<string, number>();
        let next = 0;
        for (let j = 0; j < q; j++) {
          const range = keyGroupRange(MAX, q, j);
          assert.equal(range.start, next, `p=${p} q=${q}: range of ${j} is contiguous with the previous`);
          assert.ok(range.end >= range.start);
          next = range.end + 1;
          const owns = (g: number) => g >= range.start && g <= range.end;
          const snapshot = { keyGroups: old.keyGroups };
          const names = SnapshotStrategy.blobsToRead(snapshot, owns);
          const state = new HeapKeyedState(decls, MAX, true);
          new SnapshotStrategy(state, 'op', j, 4).restore(snapshot, owns, new Map(names.map((n) => [n, old.blobs.get(n)!])));
          for (const [g, rows] of state.groups) {
            assert.ok(owns(g), `p=${p} q=${q}: subtask ${j} got group ${g}`);
            for (const [id, row] of rows) {
              assert.equal(where.has(id), false, `p=${p} q=${q}: ${id} restored twice`);
              where.set(id, j);
              assert.equal(subtaskForKeyGroup(keyGroupOf(id, MAX), MAX, q), j);
              assert.equal(row.v, `v:${id}`);
            }
          }
        }
        assert.equal(next, MAX, `p=${p} q=${q}: ranges cover 0..127`);
        assert.equal(where.size, KEYS.length - old.removed.size, `p=${p} q=${q}: every key once`);
        for (const k of KEYS) assert.equal(where.has(keyId(k)), !old.removed.has(keyId(k)));
      }
    }
  });
});

describe('non-keyed state redistribution', () => {
  const decls: StateDecls = { l: { kind: 'list' }, m: { kind: 'map' }, v: { kind: 'value', initial: 0 } };
  /** Old subtask j: list [j0, j1, ...] of j+1 elements, map {a: j, key-j: j}, value 10+j (none for j = 1). */
  const oldRows = (P: number): (StateRow | undefined)[] =>
    Array.from({ length: P }, (_, j) => ({
      l: Array.from({ length: j + 1 }, (_, n) => `${j}.${n}`),
      m: new Map<string, number>([['a', j], [`key-${j}`, j]]),
      ...(j === 1 ? {} : { v: 10 + j }),
    }));
  const all = (P: number, s: Redistribution, q: number) => Array.from({ length: q }, (_, k) => redistributeRow(oldRows(P), decls, s, k, q));

  test('split: lists and map entries dealt round-robin, value k kept by k', () => {
    for (const [P, q] of [[3, 2], [2, 5], [4, 4], [1, 3], [5, 1]] as const) {
      const rows = all(P, 'split', q);
      const list = oldRows(P).flatMap((r) => r!.l as string[]);
      rows.forEach((r, k) => assert.deepEqual(r.l ?? [], list.filter((_, i) => i % q === k), `list P=${P} q=${q} k=${k}`));
      const merged = new Map<unknown, unknown>();
      for (const r of oldRows(P)) for (const [x, y] of r!.m as Map<string, number>) merged.set(x, y);
      assert.equal(merged.get('a'), P - 1, 'a later old subtask wins');
      rows.forEach((r, k) => assert.deepEqual([...((r.m as Map<unknown, unknown>) ?? [])], [...merged].filter((_, i) => i % q === k), `map P=${P} q=${q} k=${k}`));
      rows.forEach((r, k) => assert.deepEqual(r.v, k < P && k !== 1 ? 10 + k : undefined, `value P=${P} q=${q} k=${k}`));
      // Nothing lost, nothing twice.
      assert.equal(rows.reduce((n, r) => n + ((r.l as unknown[] | undefined)?.length ?? 0), 0), list.length);
      assert.equal(rows.reduce((n, r) => n + ((r.m as Map<unknown, unknown> | undefined)?.size ?? 0), 0), merged.size);
    }
  });

  test('union: everything to every subtask, value of old subtask 0', () => {
    for (const [P, q] of [[3, 2], [2, 5], [1, 3]] as const) {
      for (const r of all(P, 'union', q)) {
        assert.deepEqual(r.l, oldRows(P).flatMap((x) => x!.l as string[]));
        assert.deepEqual([...(r.m as Map<string, number>)], [['a', P - 1], ...Array.from({ length: P }, (_, j) => [`key-${j}`, j])]);
        assert.equal(r.v, 10);
      }
    }
  });

  test('empty lists and maps are left out; missing old rows and undeclared names are handled', () => {
    const rows = [undefined, { l: ['x'], gone: 5 }];
    assert.deepEqual(redistributeRow(rows, decls, 'split', 0, 2), { l: ['x'] });
    assert.deepEqual(redistributeRow(rows, decls, 'split', 1, 2), { gone: 5 });
    assert.deepEqual(redistributeRow(rows, decls, 'union', 1, 2), { l: ['x'] });
  });
});

describe('restore at another parallelism through the Checkpointer', () => {
  const actor = defineActor({
    state: { seen: listState<number>(), last: mapState<string, number>(), count: valueState(0) },
    onMessage(n: number, { state, subtask }) {
      state.seen.add(n);
      state.last.set(`s${subtask.index}`, n);
      state.count.set(state.count.get() + 1);
    },
  });
  const node = (uid: string, kind: OperatorNode['kind'], parallelism: number, extra: Partial<OperatorNode> = {}): OperatorNode =>
    ({ id: 0, uid, name: uid, kind, parallelism, maxParallelism: MAX, chaining: true, keyed: false, inputs: [], ...extra }) as OperatorNode;
  const rt = (subtask: number, parallelism: number): ActorRuntimeContext => ({ args: {} as never, subtask, parallelism, log, maxDeltaChain: 4, wakeAt() {}, fail: (e) => assert.fail(e as Error) });

  interface Txn { readonly from: number; readonly cp: number }
  function sinkWriter(subtask: number, committed: { by: number; txn: Txn }[]): TransactionalSinkWriter<Txn> {
    return {
      write() {},
      preCommit: (cp): PreCommitted<Txn> => ({ txn: { from: subtask, cp } }),
      commit: async (_cp, txn) => void committed.push({ by: subtask, txn }),
      close: async () => {},
    };
  }

  /** Run P subtasks, checkpoint twice (4 and 5, neither committed), and build the completed checkpoint. */
  function oldCheckpoint(P: number): { checkpoint: CompletedCheckpoint; blobs: Map<string, Uint8Array> } {
    const blobs = new Map<string, Uint8Array>();
    const ops: Record<string, OperatorSnapshot> = {};
    const operatorState: Record<string, Record<number, string>> = { src: {}, act: {}, out: {} };
    for (let j = 0; j < P; j++) {
      const src = createOperator(node('src', 'source', P), rt(j, P)) as SourceOp;
      src.reader = { poll: async () => [], position: () => ({ at: j }), close: async () => {} };
      const act = createOperator(node('act', 'actor', P, { actor: actor as never }), rt(j, P));
      for (let n = 0; n <= j; n++) act.process(100 * j + n, 0);
      const out = createOperator(node('out', 'sink', P), rt(j, P), sinkWriter(j, []));
      for (const cp of [4, 5]) {
        for (const [uid, op] of [['src', src], ['act', act], ['out', out]] as const) {
          const c = op.snapshotState!(1, cp, 'incremental');
          for (const b of c.blobs) blobs.set(b.name, b.bytes);
          operatorState[uid]![j] = c.snapshot.operatorState!;
        }
      }
    }
    for (const uid of ['src', 'act', 'out']) ops[uid] = { maxParallelism: MAX, parallelism: P, keyGroups: {}, operatorState: operatorState[uid]! };
    const checkpoint: CompletedCheckpoint = { formatVersion: 1, id: 5, jobId: 'job', attempt: 1, timestamp: 0, completedAt: 0, operators: ops, finished: [], stateBytes: 0, writtenBytes: 0 };
    return { checkpoint, blobs };
  }

  async function restore(P: number, q: number) {
    const { checkpoint, blobs } = oldCheckpoint(P);
    const store = { readBlobs: async (_job: string, names: readonly string[]) => names.map((n) => blobs.get(n) ?? assert.fail(`missing ${n}`)) } as unknown as SnapshotStore;
    const committed: { by: number; txn: Txn }[] = [];
    const subtasks: { src: SourceOp; act: OperatorInstance & { state: HeapKeyedState } }[] = [];
    for (let k = 0; k < q; k++) {
      const src = createOperator(node('src', 'source', q), rt(k, q)) as SourceOp;
      const act = createOperator(node('act', 'actor', q, { actor: actor as never }), rt(k, q)) as OperatorInstance & { state: HeapKeyedState };
      const out = createOperator(node('out', 'sink', q), rt(k, q), sinkWriter(k, committed));
      const cp = new Checkpointer({ jobId: 'job', attempt: 2, subtask: k, store, operators: [src, act, out], writers: [], log, report() {}, fail: (e) => assert.fail(e as Error) });
      await cp.restore(checkpoint);
      subtasks.push({ src, act });
    }
    return { subtasks, committed };
  }

  for (const [P, q] of [[2, 3], [3, 2], [4, 1], [2, 2]] as const) {
    test(`${P} -> ${q}: source positions, actor rows, sink transactions`, async () => {
      const { subtasks, committed } = await restore(P, q);
      for (const [k, { src, act }] of subtasks.entries()) {
        const row = act.state.groups.get(-1)!.get('')!;
        if (P === q) {
          assert.deepEqual(src.restoredPosition, { at: k });
          assert.equal(row.count, k + 1);
          continue;
        }
        assert.ok(src.restoredPosition instanceof RescaledPositions);
        assert.deepEqual(src.restoredPosition, new RescaledPositions(P, Array.from({ length: P }, (_, j) => ({ at: j }))));
        const allSeen = Array.from({ length: P }, (_, j) => Array.from({ length: j + 1 }, (_, n) => 100 * j + n)).flat();
        assert.deepEqual(row.seen ?? [], allSeen.filter((_, i) => i % q === k));
        assert.equal(row.count, k < P ? k + 1 : undefined);
      }
      // Every old subtask's transactions (checkpoints 4 and 5) committed once, in checkpoint order per subtask.
      const txns = committed.map((c) => `${c.txn.from}@${c.txn.cp}`).sort();
      assert.deepEqual(txns, Array.from({ length: P }, (_, j) => [`${j}@4`, `${j}@5`]).flat().sort());
      for (let k = 0; k < q; k++) {
        const mine = committed.filter((c) => c.by === k).map((c) => c.txn.cp);
        assert.deepEqual(mine, [...mine].sort((a, b) => a - b));
      }
      if (P <= q) assert.ok(committed.every((c) => c.by === c.txn.from), 'scale-up: old subtask j committed by new subtask j');
    });
  }
});
