import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_CHECKPOINT_CONFIG, type CheckpointConfig } from '@weir/sdk';
import type { SubtaskCheckpointStats } from '@weir/runtime';
import { CheckpointCoordinatorCore, type CheckpointCommand, type CheckpointCoordinatorCoreOptions, type SubtaskAck } from './core.js';
import { HISTORY_SIZE } from './stats.js';

type Cmd = CheckpointCommand<string>;
const SUBTASKS = ['a', 'b', 'c'] as const;

const config = (over: Partial<CheckpointConfig> = {}): CheckpointConfig => ({ ...DEFAULT_CHECKPOINT_CONFIG, intervalMs: 100, timeoutMs: 1000, tolerableFailures: 100, ...over });
const stats = (n = 1): SubtaskCheckpointStats => ({ syncMs: n, asyncMs: 2 * n, alignmentMs: 3 * n, stateBytes: 10 * n, writtenBytes: n });
const ack = (subtask: string, s = stats()): SubtaskAck<string> => ({ subtask, handle: `${subtask}-handle`, stats: s });

/** A core started at time 0 with subtasks a, b, c of which a is the source. */
function started(over: Partial<CheckpointConfig> = {}, opts: Partial<CheckpointCoordinatorCoreOptions> = {}, sources: readonly string[] = ['a']): CheckpointCoordinatorCore<string> {
  const core = new CheckpointCoordinatorCore<string>(config(over), { now: 0, ...opts });
  core.start(SUBTASKS, sources, 0);
  return core;
}

/** Trigger manually, asserting it worked; returns the id. */
function manual(core: CheckpointCoordinatorCore<string>, now: number): number {
  const r = core.trigger(now);
  assert.equal(r.result, 'triggered');
  return r.result === 'triggered' ? r.id : -1;
}

/** Ack by every subtask; returns the commands of the last ack. */
function ackAll(core: CheckpointCoordinatorCore<string>, id: number, now: number, subtasks: readonly string[] = SUBTASKS): Cmd[] {
  let last: Cmd[] = [];
  for (const s of subtasks) {
    const r = core.acknowledge(id, ack(s), now);
    assert.equal(r.result, 'ok', `ack of ${s} for ${id}`);
    last = r.commands;
  }
  return last;
}

/** Ack by all and store the metadata: the commands of finalized(). */
function complete(core: CheckpointCoordinatorCore<string>, id: number, now: number): Cmd[] {
  const cmds = ackAll(core, id, now);
  assert.deepEqual(cmds.map((c) => c.type), ['finalize']);
  return core.finalized(id, now);
}

const types = (cmds: readonly Cmd[]) => cmds.map((c) => c.type);
const triggered = (cmds: readonly Cmd[]) => cmds.flatMap((c) => (c.type === 'trigger' ? [c.id] : []));
const aborts = (cmds: readonly Cmd[]) => cmds.flatMap((c) => (c.type === 'abort' ? [`${c.id}:${c.reason}`] : []));
const failJob = (cmds: readonly Cmd[]) => cmds.some((c) => c.type === 'fail-job');

test('periodic trigger: first one interval after start, then every interval while none is pending', () => {
  const core = started();
  assert.deepEqual(core.tick(99), []);
  assert.deepEqual(core.tick(100), [{ type: 'trigger', id: 1, timestamp: 100, subtasks: ['a'], savepoint: false, detached: false }]);
  // maxConcurrent 1: nothing while checkpoint 1 is pending, even long after the interval.
  assert.deepEqual(core.tick(250), []);
  complete(core, 1, 260);
  // The interval counts from the previous trigger (100), so 260 is already due; a late tick triggers once, no burst.
  assert.deepEqual(triggered(core.tick(260)), [2]);
  complete(core, 2, 300);
  assert.deepEqual(core.tick(359), []);
  assert.deepEqual(triggered(core.tick(360)), [3]);
});

test('periodic trigger: minPause holds the next trigger back after a completion', () => {
  const core = started({ minPauseMs: 80 });
  assert.deepEqual(triggered(core.tick(100)), [1]);
  complete(core, 1, 250);
  assert.deepEqual(core.tick(329), []);
  assert.deepEqual(triggered(core.tick(330)), [2]);
  // Interval dominates when it is the later bound: completion at 335, pause ends 415, interval ends 430.
  complete(core, 2, 335);
  assert.deepEqual(core.tick(429), []);
  assert.deepEqual(triggered(core.tick(430)), [3]);
});

test('periodic trigger: intervalMs 0 never triggers; not before start()', () => {
  const off = started({ intervalMs: 0 });
  for (let t = 0; t <= 10_000; t += 1000) assert.deepEqual(off.tick(t), []);
  assert.equal(manual(off, 10_000), 1);
  const notStarted = new CheckpointCoordinatorCore<string>(config(), { now: 0 });
  assert.deepEqual(notStarted.tick(1000), []);
  assert.deepEqual(notStarted.trigger(1000), { result: 'rejected', reason: 'the job attempt is not running', commands: [] });
});

test('maxConcurrent is respected by periodic triggers, finalizing ones included, but not by manual ones', () => {
  const core = started({ maxConcurrent: 2 });
  assert.deepEqual(triggered(core.tick(100)), [1]);
  assert.deepEqual(triggered(core.tick(200)), [2]);
  assert.deepEqual(core.tick(300), []);
  // Checkpoint 2 fully acked is finalizing: still in progress.
  assert.deepEqual(types(ackAll(core, 2, 310)), ['finalize']);
  assert.deepEqual(core.tick(320), []);
  assert.deepEqual(types(core.decline(1, 'b', 'no', 330)), ['abort']);
  assert.deepEqual(triggered(core.tick(330)), [3]);
  assert.deepEqual(core.tick(440), []);
  // Manual triggers (future savepoints) may exceed the limit.
  assert.equal(manual(core, 441), 4);
  assert.equal(manual(core, 442), 5);
  assert.equal(core.stats(442).counts.inProgress, 4);
});

test('a manual trigger does not move the periodic schedule', () => {
  const core = started({ maxConcurrent: 5 });
  assert.equal(manual(core, 50), 1);
  assert.deepEqual(triggered(core.tick(100)), [2]);
});

test('timeouts abort pending checkpoints (not finalizing ones) and free the slot in the same tick', () => {
  const core = started();
  core.tick(100);
  core.acknowledge(1, ack('a'), 150);
  assert.deepEqual(core.tick(1099), []);
  const cmds = core.tick(1100);
  assert.deepEqual(cmds, [
    { type: 'abort', id: 1, reason: 'TIMEOUT', message: 'checkpoint 1 expired after 1000 ms (1/3 subtasks acknowledged)' },
    { type: 'trigger', id: 2, timestamp: 1100, subtasks: ['a'], savepoint: false, detached: false },
  ]);
  assert.equal(core.acknowledge(1, ack('b'), 1101).result, 'late');
  // Checkpoint 2 finalizes at 1200; a slow metadata write is not timed out by the core.
  ackAll(core, 2, 1200);
  assert.deepEqual(core.tick(5000), []);
  assert.deepEqual(types(core.finalized(2, 5000)), ['notify-complete']);
});

test('a decline aborts the checkpoint; declines that change nothing are ignored', () => {
  const core = started();
  core.tick(100);
  core.acknowledge(1, ack('a'), 110);
  assert.deepEqual(core.decline(1, 'a', 'already acked', 120), []);
  assert.deepEqual(core.decline(1, 'zz', 'not a subtask', 120), []);
  assert.deepEqual(core.decline(42, 'b', 'unknown id', 120), []);
  assert.deepEqual(core.decline(1, 'b', 'state backend unavailable', 130), [{ type: 'abort', id: 1, reason: 'DECLINED', message: 'checkpoint 1 declined by b: state backend unavailable' }]);
  assert.deepEqual(core.decline(1, 'c', 'again', 140), []);
  assert.equal(core.acknowledge(1, ack('c'), 150).result, 'late');
});

test('acks in every order: only the last expected ack finalizes, with the acks in arrival order', () => {
  const orders = [
    ['a', 'b', 'c'],
    ['a', 'c', 'b'],
    ['b', 'a', 'c'],
    ['b', 'c', 'a'],
    ['c', 'a', 'b'],
    ['c', 'b', 'a'],
  ];
  const core = started({ maxConcurrent: 16 });
  for (const order of orders) {
    const id = manual(core, 100);
    order.forEach((s, i) => {
      const r = core.acknowledge(id, ack(s), 100 + i);
      assert.equal(r.result, 'ok');
      if (i < 2) {
        assert.deepEqual(r.commands, []);
        // A duplicate before completion is reported and does not complete anything.
        assert.deepEqual(core.acknowledge(id, ack(s), 100 + i), { result: 'duplicate', commands: [] });
      } else {
        assert.deepEqual(r.commands, [{ type: 'finalize', id, timestamp: 100, acks: order.map((o) => ack(o)), savepoint: false, detached: false }]);
      }
    });
    // While finalizing: duplicate, and no second finalize.
    assert.deepEqual(core.acknowledge(id, ack(order[0]!), 200), { result: 'duplicate', commands: [] });
  }
});

test('ack outcomes: unknown, unexpected, late after completion and after abort', () => {
  const core = started({ maxConcurrent: 3 });
  assert.equal(core.acknowledge(1, ack('a'), 10).result, 'unknown');
  const id = manual(core, 10);
  assert.equal(core.acknowledge(id + 1, ack('a'), 10).result, 'unknown');
  assert.equal(core.acknowledge(0, ack('a'), 10).result, 'unknown');
  assert.equal(core.acknowledge(id, ack('x'), 11).result, 'unexpected');
  complete(core, id, 20);
  assert.equal(core.acknowledge(id, ack('a'), 21).result, 'late');
  const aborted = manual(core, 30);
  core.decline(aborted, 'a', 'no', 31);
  assert.equal(core.acknowledge(aborted, ack('b'), 32).result, 'late');
});

test('concurrent checkpoints: a later one completing first subsumes the earlier one, which is not a failure', () => {
  const core = started({ maxConcurrent: 2, tolerableFailures: 0 });
  core.tick(100);
  core.tick(200);
  core.acknowledge(1, ack('a'), 210);
  assert.deepEqual(types(ackAll(core, 2, 220)), ['finalize']);
  const cmds = core.finalized(2, 230);
  assert.deepEqual(cmds, [
    { type: 'abort', id: 1, reason: 'SUBSUMED', message: 'checkpoint 1 subsumed by completed checkpoint 2' },
    { type: 'notify-complete', id: 2 },
  ]);
  assert.equal(core.acknowledge(1, ack('b'), 240).result, 'late');
  const s = core.stats(240);
  assert.deepEqual(s.counts, { triggered: 2, inProgress: 0, completed: 1, failed: 1, restored: 0 });
  assert.equal(s.latest.failed?.failureReason, 'SUBSUMED');
  // With 0 tolerable failures, one counted failure now fails the job: SUBSUMED did not count.
  core.tick(300);
  assert.equal(failJob(core.decline(3, 'a', 'x', 310)), true);
});

test('a checkpoint subsumed while its metadata is written is discarded when the write succeeds', () => {
  const core = started({ maxConcurrent: 2 });
  core.tick(100);
  core.tick(200);
  ackAll(core, 1, 210);
  ackAll(core, 2, 220);
  assert.deepEqual(aborts(core.finalized(2, 230)), ['1:SUBSUMED']);
  assert.deepEqual(core.finalized(1, 240), [{ type: 'discard', ids: [1] }]);
  // Only once; and a failed write of an aborted checkpoint leaves nothing to discard.
  assert.deepEqual(core.finalized(1, 250), []);
  assert.deepEqual(core.stats(250).retained, [2]);
});

test('retained: the oldest completed checkpoints beyond the limit are discarded, oldest first', () => {
  const core = started({ retained: 2 }, { nextId: 8, retained: [7, 5, 6] });
  assert.deepEqual(core.stats(0).retained, [5, 6, 7]);
  core.tick(100);
  assert.deepEqual(complete(core, 8, 110), [
    { type: 'discard', ids: [5, 6] },
    { type: 'notify-complete', id: 8 },
  ]);
  core.tick(200);
  assert.deepEqual(complete(core, 9, 210), [
    { type: 'discard', ids: [7] },
    { type: 'notify-complete', id: 9 },
  ]);
  core.tick(300);
  assert.deepEqual(complete(core, 10, 310), [
    { type: 'discard', ids: [8] },
    { type: 'notify-complete', id: 10 },
  ]);
  assert.deepEqual(core.stats(310).retained, [9, 10]);
});

test('retained: no discard while under the limit', () => {
  const core = started({ retained: 3 });
  core.tick(100);
  assert.deepEqual(complete(core, 1, 110), [{ type: 'notify-complete', id: 1 }]);
  core.tick(200);
  assert.deepEqual(complete(core, 2, 210), [{ type: 'notify-complete', id: 2 }]);
  assert.deepEqual(core.stats(210).retained, [1, 2]);
});

test('finalize failure aborts with FINALIZE_FAILED and retains nothing; finalized() of a non-finalizing checkpoint is ignored', () => {
  const core = started({ tolerableFailures: 1 });
  core.tick(100);
  core.acknowledge(1, ack('a'), 110);
  assert.deepEqual(core.finalized(1, 115), []);
  ackAll(core, 1, 120, ['b', 'c']);
  assert.deepEqual(core.finalized(1, 130, 'disk full'), [{ type: 'abort', id: 1, reason: 'FINALIZE_FAILED', message: 'checkpoint 1 could not be stored: disk full' }]);
  assert.deepEqual(core.finalized(1, 140), []);
  assert.deepEqual(core.finalized(99, 140), []);
  const s = core.stats(140);
  assert.deepEqual(s.retained, []);
  assert.equal(s.latest.completed, null);
  assert.equal(s.latest.failed?.failureMessage, 'checkpoint 1 could not be stored: disk full');
});

test('tolerable failures 0: the first counted failure fails the job, once; then nothing triggers', () => {
  for (const fail of [
    (c: CheckpointCoordinatorCore<string>) => c.tick(1100),
    (c: CheckpointCoordinatorCore<string>) => c.decline(1, 'b', 'x', 150),
    (c: CheckpointCoordinatorCore<string>) => (ackAll(c, 1, 150), c.finalized(1, 160, 'io')),
  ]) {
    const core = started({ tolerableFailures: 0, maxConcurrent: 4 });
    core.tick(100);
    assert.equal(manual(core, 500), 2);
    const cmds = fail(core);
    assert.deepEqual(types(cmds), ['abort', 'fail-job']);
    const msg = cmds.find((c) => c.type === 'fail-job');
    assert.match(msg?.type === 'fail-job' ? msg.message : '', /^1 consecutive checkpoint failures exceed the 0 tolerated \(last: checkpoint 1 /);
    // Once per attempt: the next failure only aborts.
    assert.deepEqual(types(core.decline(2, 'a', 'y', 1200)), ['abort']);
    assert.deepEqual(core.tick(5000), []);
    assert.deepEqual(core.trigger(5000), { result: 'rejected', reason: 'the job attempt is failing over (too many checkpoint failures)', commands: [] });
  }
});

test('a savepoint that fails (declined, timed out, not recorded) is not counted: tolerable failures 0 keep the job running, and checkpoint failures around it still count', () => {
  for (const detached of [true, false]) {
    const fails = [
      (c: CheckpointCoordinatorCore<string>, id: number) => c.decline(id, 'b', 'fenced', 150),
      (c: CheckpointCoordinatorCore<string>) => c.tick(1100),
      (c: CheckpointCoordinatorCore<string>, id: number) => (ackAll(c, id, 150), c.finalized(id, 160, 'io')),
    ];
    for (const fail of fails) {
      const core = started({ tolerableFailures: 0, maxConcurrent: 1, intervalMs: 0 });
      const sp = core.trigger(100, { savepoint: true, detached });
      assert.equal(sp.result, 'triggered');
      const cmds = fail(core, sp.result === 'triggered' ? sp.id : -1);
      assert.deepEqual(types(cmds), ['abort'], `detached ${detached}: ${JSON.stringify(cmds)}`);
      assert.equal(core.stats(2000).counts.failed, 1);
      // The next checkpoint's failure is the first that counts.
      const next = manual(core, 2000);
      assert.deepEqual(types(core.decline(next, 'a', 'x', 2010)), ['abort', 'fail-job']);
    }
  }
});

test('tolerable failures 2: the third consecutive failure fails the job; a completion in between resets the count', () => {
  const core = started({ tolerableFailures: 2, maxConcurrent: 16 });
  const declineNext = (now: number) => core.decline(manual(core, now), 'a', 'x', now);
  assert.equal(failJob(declineNext(10)), false);
  assert.equal(failJob(declineNext(20)), false);
  complete(core, manual(core, 30), 30);
  assert.equal(failJob(declineNext(40)), false);
  assert.equal(failJob(declineNext(50)), false);
  assert.equal(failJob(declineNext(60)), true);
  // Once per attempt.
  core.abortAll('JOB_FAILOVER', 'restart', 70);
  core.start(SUBTASKS, ['a'], 80);
  // A new attempt starts with a fresh budget.
  assert.equal(failJob(declineNext(90)), false);
  assert.equal(failJob(declineNext(91)), false);
  assert.equal(failJob(declineNext(92)), true);
});

test('subtaskFinished: a pending checkpoint stops waiting for the subtask and may complete', () => {
  const core = started({ maxConcurrent: 2 });
  core.tick(100);
  core.acknowledge(1, ack('a'), 110);
  core.acknowledge(1, ack('b'), 120);
  assert.deepEqual(core.subtaskFinished('c', 130), [{ type: 'finalize', id: 1, timestamp: 100, acks: [ack('a'), ack('b')], savepoint: false, detached: false }]);
  assert.equal(core.acknowledge(1, ack('c'), 131).result, 'unexpected');
  // Finishing again or finishing a subtask that already acked changes nothing.
  assert.deepEqual(core.subtaskFinished('c', 140), []);
  core.finalized(1, 150);
  core.tick(200);
  assert.equal(core.acknowledge(2, ack('c'), 210).result, 'unexpected');
  assert.deepEqual(types(ackAll(core, 2, 210, ['a', 'b'])), ['finalize']);
  // Checkpoint 1 counts the two subtasks that acked; checkpoint 2 never expected c.
  assert.deepEqual(
    core.stats(210).history.map((h) => [h.id, h.numAcknowledged, h.numSubtasks]),
    [
      [2, 2, 2],
      [1, 2, 2],
    ],
  );
});

test('subtaskFinished: finished sources are not triggered; with no running source nothing triggers', () => {
  const core = started({ maxConcurrent: 16 }, {}, ['a', 'b']);
  assert.deepEqual(core.tick(100), [{ type: 'trigger', id: 1, timestamp: 100, subtasks: ['a', 'b'], savepoint: false, detached: false }]);
  core.subtaskFinished('a', 150);
  assert.deepEqual(core.tick(200), [{ type: 'trigger', id: 2, timestamp: 200, subtasks: ['b'], savepoint: false, detached: false }]);
  core.subtaskFinished('b', 250);
  assert.deepEqual(core.tick(300), []);
  assert.deepEqual(core.trigger(300), { result: 'rejected', reason: 'no source subtask is running', commands: [] });
  // The pending ones now wait only for c.
  assert.deepEqual(types(core.acknowledge(1, ack('c'), 310).commands), ['finalize']);
});

test('subtaskFinished of the last awaited subtask with no acks at all still finalizes (state carried over)', () => {
  const core = started();
  core.tick(100);
  core.subtaskFinished('a', 110);
  core.subtaskFinished('b', 110);
  assert.deepEqual(core.subtaskFinished('c', 110), [{ type: 'finalize', id: 1, timestamp: 100, acks: [], savepoint: false, detached: false }]);
});

test('a detached savepoint aborted while it is recorded, which then completes after all, is not retained: the latest checkpoint stays', () => {
  const core = started({ retained: 1 });
  const cp1 = manual(core, 5);
  ackAll(core, cp1, 6);
  core.finalized(cp1, 7);
  const r = core.trigger(10, { detached: true });
  const sp = r.result === 'triggered' ? r.id : -1;
  ackAll(core, sp, 20);
  core.abortAll('JOB_FAILOVER', 'worker lost', 21);
  assert.deepEqual(core.finalized(sp, 22), [], 'no discard of the checkpoint the next attempt restores');
  assert.deepEqual(core.stats(22).retained, [cp1]);
});

test('abortAll ends the attempt without counting failures; start() resumes with continuing ids', () => {
  const core = started({ tolerableFailures: 0, maxConcurrent: 2 });
  core.tick(100);
  core.tick(200);
  ackAll(core, 2, 210);
  assert.deepEqual(core.abortAll('JOB_FAILOVER', 'worker lost', 220), [
    { type: 'abort', id: 1, reason: 'JOB_FAILOVER', message: 'worker lost' },
    { type: 'abort', id: 2, reason: 'JOB_FAILOVER', message: 'worker lost' },
  ]);
  assert.deepEqual(core.tick(1000), []);
  assert.equal(core.trigger(1000).result, 'rejected');
  // Checkpoint 2 was finalizing: if its write lands after all, it is the latest and the next
  // attempt may restore from it: it is retained, not discarded.
  assert.deepEqual(core.finalized(2, 1000), []);
  assert.deepEqual(core.stats(1000).retained, [2]);
  core.start(SUBTASKS, ['a'], 2000);
  assert.deepEqual(core.tick(2099), []);
  assert.deepEqual(triggered(core.tick(2100)), [3]);
  assert.equal(core.acknowledge(1, ack('a'), 2101).result, 'late');
  assert.deepEqual(core.abortAll('STOPPED', 'cancel', 2200), [{ type: 'abort', id: 3, reason: 'STOPPED', message: 'cancel' }]);
  assert.deepEqual(core.abortAll('STOPPED', 'cancel', 2200), []);
});

test('start() while checkpoints are pending is a bug', () => {
  const core = started();
  core.tick(100);
  assert.throws(() => core.start(SUBTASKS, ['a'], 200), (e: { code?: string }) => e.code === 'WEIR_INTERNAL');
});

test('after a restore ids continue past the restored and retained ones', () => {
  const core = new CheckpointCoordinatorCore<string>(config(), { now: 0, nextId: 13, retained: [12] });
  core.restored(12, 5);
  core.start(SUBTASKS, ['a'], 10);
  assert.equal(core.acknowledge(12, ack('a'), 10).result, 'late');
  assert.equal(core.acknowledge(13, ack('a'), 10).result, 'unknown');
  assert.deepEqual(triggered(core.tick(110)), [13]);
  // nextId lower than a retained id, or a restore of a newer id, never lets ids repeat.
  const odd = new CheckpointCoordinatorCore<string>(config(), { now: 0, nextId: 2, retained: [4] });
  odd.start(SUBTASKS, ['a'], 0);
  assert.equal(manual(odd, 1), 5);
  odd.restored(9, 2);
  odd.abortAll('JOB_FAILOVER', 'x', 3);
  odd.start(SUBTASKS, ['a'], 4);
  assert.equal(manual(odd, 5), 10);
});

test('stats: counts, latest, per-subtask figures, durations and retained', () => {
  const core = started({ maxConcurrent: 4 }, { nextId: 1 });
  core.restored(0, 1);
  core.tick(100);
  // b from a worker that reports its start delay, a from an older one that does not.
  core.acknowledge(1, ack('a', stats(1)), 130);
  core.acknowledge(1, ack('b', { ...stats(4), startDelayMs: 7 }), 150);
  const inProgress = core.stats(160);
  assert.deepEqual(inProgress, {
    counts: { triggered: 1, inProgress: 1, completed: 0, failed: 0, restored: 1 },
    latest: { completed: null, failed: null, restored: { id: 0, time: 1 } },
    history: [
      {
        id: 1,
        status: 'IN_PROGRESS',
        isSavepoint: false,
        triggerTimestamp: 100,
        latestAckTimestamp: 150,
        endToEndDurationMs: 60,
        syncMs: 4,
        asyncMs: 8,
        alignmentMs: 12,
        startDelayMs: 7,
        stateBytes: 50,
        checkpointedBytes: 5,
        numAcknowledged: 2,
        numSubtasks: 3,
        subtasks: [
          { subtask: 'a', ackTimestamp: 130, syncMs: 1, asyncMs: 2, alignmentMs: 3, startDelayMs: 0, stateBytes: 10, writtenBytes: 1, packedAheadBytes: 0 },
          { subtask: 'b', ackTimestamp: 150, syncMs: 4, asyncMs: 8, alignmentMs: 12, startDelayMs: 7, stateBytes: 40, writtenBytes: 4, packedAheadBytes: 0 },
        ],
      },
    ],
    retained: [],
  });
  core.acknowledge(1, ack('c', stats(2)), 170);
  core.finalized(1, 180);
  const done = core.stats(500);
  assert.equal(done.latest.completed?.status, 'COMPLETED');
  assert.equal(done.latest.completed?.endToEndDurationMs, 80);
  assert.equal(done.latest.completed?.stateBytes, 70);
  assert.equal(done.latest.completed?.checkpointedBytes, 7);
  assert.equal(done.latest.completed?.numAcknowledged, 3);
  assert.equal(done.latest.completed?.failureReason, undefined);
  assert.ok(!('failureReason' in done.latest.completed!));
  assert.deepEqual(done.retained, [1]);
  core.tick(600);
  core.decline(2, 'a', 'boom', 650);
  const failed = core.stats(700);
  assert.deepEqual(failed.counts, { triggered: 2, inProgress: 0, completed: 1, failed: 1, restored: 1 });
  assert.deepEqual(
    failed.history.map((h) => [h.id, h.status]),
    [
      [2, 'FAILED'],
      [1, 'COMPLETED'],
    ],
  );
  assert.equal(failed.latest.failed?.endToEndDurationMs, 50);
  assert.equal(failed.latest.failed?.latestAckTimestamp, null);
  assert.equal(failed.latest.failed?.failureReason, 'DECLINED');
  assert.equal(failed.latest.failed?.failureMessage, 'checkpoint 2 declined by a: boom');
  // The view is a copy: mutating it does not change the core.
  (failed.retained as number[]).push(99);
  assert.deepEqual(core.stats(700).retained, [1]);
});

test(`stats: the history keeps the newest ${HISTORY_SIZE} checkpoints, newest first; latest survives rotation`, () => {
  const core = started({ maxConcurrent: 16, tolerableFailures: 1000 });
  complete(core, manual(core, 1), 2);
  for (let i = 0; i < HISTORY_SIZE + 9; i++) core.decline(manual(core, 10 + i), 'a', 'x', 10 + i);
  const s = core.stats(1000);
  assert.equal(s.history.length, HISTORY_SIZE);
  assert.equal(s.history[0]!.id, HISTORY_SIZE + 10);
  assert.equal(s.history.at(-1)!.id, 11);
  assert.deepEqual(s.counts, { triggered: HISTORY_SIZE + 10, inProgress: 0, completed: 1, failed: HISTORY_SIZE + 9, restored: 0 });
  assert.equal(s.latest.completed?.id, 1);
});

test('savepoints: the trigger and finalize say so, a newer checkpoint does not subsume one, the history marks it', () => {
  const core = started({ maxConcurrent: 2 });
  const r = core.trigger(10, { savepoint: true, detached: false });
  assert.equal(r.result, 'triggered');
  const sp = r.result === 'triggered' ? r.id : -1;
  assert.deepEqual(r.commands[0], { type: 'trigger', id: sp, timestamp: 10, subtasks: ['a'], savepoint: true, detached: false });
  const cp = manual(core, 20);
  const finalize = ackAll(core, cp, 30);
  assert.deepEqual(finalize.map((c) => c.type), ['finalize']);
  assert.equal((finalize[0] as { savepoint: boolean }).savepoint, false);
  const done = core.finalized(cp, 31);
  assert.ok(!done.some((c) => c.type === 'abort' && c.id === sp), 'the pending savepoint is not subsumed');
  const spFinalize = ackAll(core, sp, 40);
  assert.equal((spFinalize[0] as { savepoint: boolean }).savepoint, true);
  assert.ok(core.finalized(sp, 41).some((c) => c.type === 'notify-complete' && c.id === sp));
  const history = core.stats(50).history;
  assert.equal(history.find((h) => h.id === sp)!.isSavepoint, true);
  assert.equal(history.find((h) => h.id === cp)!.isSavepoint, false);
});

test('detached savepoints: complete without becoming a checkpoint (no subsumption, retention or notification)', () => {
  const core = started({ maxConcurrent: 3, retained: 1 });
  const cp1 = manual(core, 5);
  ackAll(core, cp1, 6);
  core.finalized(cp1, 7);
  const r = core.trigger(10, { detached: true });
  assert.equal(r.result, 'triggered');
  const sp = r.result === 'triggered' ? r.id : -1;
  assert.deepEqual(r.commands[0], { type: 'trigger', id: sp, timestamp: 10, subtasks: ['a'], savepoint: true, detached: true });
  const older = manual(core, 11);
  const finalize = ackAll(core, sp, 20);
  assert.deepEqual(finalize, [{ type: 'finalize', id: sp, timestamp: 10, acks: ['a', 'b', 'c'].map((x) => ack(x)), savepoint: true, detached: true }]);
  assert.deepEqual(core.finalized(sp, 21), [], 'no notify-complete, no discard, no subsumption of the older pending checkpoint');
  const s = core.stats(22);
  assert.deepEqual(s.retained, [cp1], 'the retained checkpoints are unchanged');
  assert.equal(s.counts.inProgress, 1);
  assert.equal(s.history.find((h) => h.id === sp)!.isSavepoint, true);
  // The next checkpoint completes as usual and is the one that discards cp1.
  ackAll(core, older, 30);
  const done = core.finalized(older, 31);
  assert.deepEqual(done, [{ type: 'discard', ids: [cp1] }, { type: 'notify-complete', id: older }]);
});

test('allInputsEnded: true once every expected subtask reported that its inputs ended (a finished one no longer counts)', () => {
  const core = started();
  assert.equal(core.allInputsEnded, false);
  core.subtaskInputsEnded('a');
  core.subtaskInputsEnded('b');
  assert.equal(core.allInputsEnded, false);
  core.subtaskFinished('c', 5);
  assert.equal(core.allInputsEnded, true);
  // A pending savepoint re-triggered for a subtask whose inputs ended keeps its kind.
  const core2 = started();
  const r = core2.trigger(1, { savepoint: true, detached: false });
  const cmds = core2.subtaskInputsEnded('b');
  assert.deepEqual(cmds, [{ type: 'trigger', id: r.result === 'triggered' ? r.id : -1, timestamp: 1, subtasks: ['b'], savepoint: true, detached: false }]);
});

test('a detached savepoint one of whose subtasks finishes before its part is aborted (TASK_FINISHED, not counted); a checkpoint just stops waiting', () => {
  const core = started({ tolerableFailures: 0, maxConcurrent: 2 });
  const sp = core.trigger(100, { detached: true });
  assert.equal(sp.result, 'triggered');
  const cp = manual(core, 100);
  assert.equal(core.acknowledge(cp, ack('a'), 105).result, 'ok');
  assert.equal(core.acknowledge(cp, ack('b'), 105).result, 'ok');
  // c finishes: the savepoint cannot hold its part; the checkpoint carries it over as finished.
  const commands = core.subtaskFinished('c', 110);
  assert.deepEqual(commands.map((c) => c.type).sort(), ['abort', 'finalize']);
  const abort = commands.find((c) => c.type === 'abort');
  assert.ok(abort && abort.type === 'abort' && abort.reason === 'TASK_FINISHED' && /stop it with --savepoint --drain/.test(abort.message), JSON.stringify(abort));
  assert.ok(!commands.some((c) => c.type === 'fail-job'), 'not a failure that counts');
});
