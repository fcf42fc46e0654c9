/**
 * A task's life as its worker reports it: DEPLOYING → INITIALIZING → RUNNING, and a cancel that
 * comes while it initializes. Real NATS (a JetStream sink, whose connection is what the task waits
 * for here) and a file snapshot store; the task is built as the worker builds it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ActorSystem } from '@weir/actors';
import { buildJob, defineJob } from '@weir/sdk';
import { generator, jetstreamSink } from '@weir/sdk/connectors';
import { pino } from 'pino';
import { InProcessDataPlane } from '../channels/in-process.js';
import type { TaskState } from '../protocol.js';
import { planExecution } from '../plan.js';
import { FileSnapshotStore } from '../snapshots/file-store.js';
import type { CheckpointReport } from './checkpointer.js';
import { DEFAULT_TASK_OPTIONS, Task } from './task.js';

const NATS = process.env.WEIR_NATS_URL ?? 'nats://127.0.0.1:4222';
const RUN = `tasklife${randomBytes(4).toString('hex')}`;
const SUBJECT = `${RUN}.out`;
let nc: NatsConnection;
let dir: string;

before(async () => {
  nc = await connect({ servers: NATS });
  await (await jetstreamManager(nc)).streams.add({ name: RUN, subjects: [`${RUN}.>`], storage: StorageType.Memory });
  dir = mkdtempSync(join(tmpdir(), 'weir-task-life-'));
});

after(async () => {
  await (await jetstreamManager(nc)).streams.delete(RUN).catch(() => undefined);
  await nc.close();
  rmSync(dir, { recursive: true, force: true });
});

const job = defineJob({ name: 'life', version: '1' }, (env) => {
  env.source(generator({ count: 100, make: (i) => i }), { uid: 'numbers', parallelism: 1 }).sink(jetstreamSink({ subject: SUBJECT }), { uid: 'out', parallelism: 1 });
});

/** The one task of `job` (source and sink chained), whose connector connection waits for `opened`; `reports` gets its checkpoint reports (checkpointing on). */
function makeTask(jobId: string, opened: Promise<void>, states: TaskState[], reports?: CheckpointReport[]): { task: Task; system: ActorSystem } {
  const { graph, description } = buildJob(job, {});
  const plan = planExecution(description);
  assert.equal(plan.tasks.length, 1, 'source and sink are chained into one task');
  const system = new ActorSystem({ name: `${jobId}-system` });
  const task = new Task({
    jobId,
    attempt: 1,
    graph,
    plan,
    task: plan.tasks[0]!,
    subtask: 0,
    args: {},
    channels: new InProcessDataPlane().channels(jobId, 1),
    system,
    log: pino({ level: 'silent' }),
    options: DEFAULT_TASK_OPTIONS,
    checkpointing: { enabled: reports !== undefined, mode: 'exactly-once', maxDeltaChain: 8 },
    snapshots: new FileSnapshotStore(dir),
    connectorContext: (uid) => ({
      subtask: 0,
      parallelism: 1,
      operatorUid: uid,
      jobId,
      log: pino({ level: 'silent' }),
      redisUrl: 'redis://127.0.0.1:6379',
      nats: async () => {
        await opened;
        return nc;
      },
    }),
    onCheckpoint: (_, r) => void reports?.push(r),
    onInputsEnded: () => undefined,
    onState: (_, state) => void states.push(state),
  });
  return { task, system };
}

const until = async (what: string, ok: () => boolean): Promise<void> => {
  for (let i = 0; i < 1000 && !ok(); i++) await new Promise((r) => setTimeout(r, 10)); // at most 10 s
  assert.ok(ok(), `timed out waiting for ${what}`);
};

const stored = async (): Promise<number> => (await (await jetstreamManager(nc)).streams.info(RUN)).state.messages;

test('a task reports INITIALIZING while its connectors open, then RUNNING, and runs to the end', { timeout: 20_000 }, async () => {
  const states: TaskState[] = [];
  let open!: () => void;
  const { task, system } = makeTask(`${RUN}-a`, new Promise((r) => (open = r)), states);
  const started = task.start();
  await until('INITIALIZING', () => states.length > 0);
  assert.deepEqual(states, ['INITIALIZING'], 'no RUNNING while the sink waits for its connection');
  const before = await stored();
  open();
  await started;
  await until('the 100 records in the stream', () => states.includes('FINISHED'));
  assert.deepEqual(states.slice(0, 2), ['INITIALIZING', 'RUNNING']);
  assert.equal((await stored()) - before, 100);
  await system.shutdown();
});

test('a task canceled while it initializes closes what it opened and never runs', { timeout: 20_000 }, async () => {
  const states: TaskState[] = [];
  let open!: () => void;
  const { task, system } = makeTask(`${RUN}-b`, new Promise((r) => (open = r)), states);
  const before = await stored();
  const started = task.start();
  await until('INITIALIZING', () => states.length > 0);
  await task.cancel();
  assert.deepEqual(states, ['INITIALIZING', 'CANCELING', 'CANCELED']);
  open(); // the sink's connection comes after the cancel
  await started;
  await new Promise((r) => setTimeout(r, 200)); // a source that ran would have published by now
  assert.deepEqual(states, ['INITIALIZING', 'CANCELING', 'CANCELED'], 'no RUNNING after CANCELED');
  assert.equal(task.state, 'CANCELED');
  assert.equal((await stored()) - before, 0, 'nothing was published');
  await system.shutdown();
});

test('a checkpoint triggered while the task initializes is taken once it runs, not dropped', { timeout: 20_000 }, async () => {
  const states: TaskState[] = [];
  const reports: CheckpointReport[] = [];
  let open!: () => void;
  const jobId = `${RUN}-c`;
  await new FileSnapshotStore(dir).fence(jobId, 1);
  const { task, system } = makeTask(jobId, new Promise((r) => (open = r)), states, reports);
  const started = task.start();
  await until('INITIALIZING', () => states.length > 0);
  task.triggerCheckpoint({ id: 1, timestamp: Date.now() });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(reports.length, 0, 'nothing while it initializes');
  open();
  await started;
  await until('the checkpoint acknowledged', () => reports.length > 0);
  assert.equal(reports[0]!.kind, 'ack', JSON.stringify(reports[0]));
  assert.equal(reports[0]!.checkpointId, 1);
  await task.cancel();
  await system.shutdown();
});
