/**
 * Rescales that cannot go through must leave the job running. In one process (as the embedded
 * default runs): the real coordinator, worker, in-process data plane and directory stores.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ActorSystem, InProcessTransport } from '@weir/actors';
import { Coordinator } from '@weir/coordinator';
import { FileSavepointStore, FileSnapshotStore, InProcessDataPlane, MemoryArtifactStore, Worker } from '@weir/runtime';
import { buildJob, type JobDefinition } from '@weir/sdk';
import { pino } from 'pino';
import { sleep, waitFor } from './harness.js';

type Job = Awaited<ReturnType<Coordinator['submit']>>;

/**
 * A coordinator and a 4-slot worker in this process, running the job module `body` (the code
 * after the SDK imports, `defineJob` and the connectors in scope) with `args` at parallelism 1,
 * once it runs and, with checkpoints on, has completed one. `patch` may wrap the savepoint store first.
 */
async function withRunningJob(body: string, args: Record<string, string>, run: (c: { coordinator: Coordinator; job: Job; dir: string }) => Promise<void>, patch?: (savepoints: FileSavepointStore) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-rescale-'));
  const log = pino({ level: 'silent' });
  const system = new ActorSystem({ name: 'rescale', transport: new InProcessTransport(), logger: log });
  const dataPlane = new InProcessDataPlane();
  const artifacts = new MemoryArtifactStore();
  const snapshots = new FileSnapshotStore(join(dir, 'state'));
  const savepoints = new FileSavepointStore(join(dir, 'state'), snapshots);
  patch?.(savepoints);
  const coordinator = new Coordinator({ system, dataPlane, artifacts, snapshots, savepoints, log });
  const worker = new Worker({ workerId: 'w', slots: 4, system, dataPlane, artifacts, snapshots, log, cacheDir: join(dir, 'cache'), localChannels: false, nats: () => Promise.reject(new Error('this job uses no NATS')) });
  try {
    await coordinator.start();
    await worker.start();
    // A job module as `weir run` would upload it, importing the SDK where this checkout has it.
    const jobFile = join(dir, 'job.mjs');
    writeFileSync(jobFile, `import { defineJob } from '${import.meta.resolve('@weir/sdk')}';\nimport * as connectors from '${import.meta.resolve('@weir/sdk/connectors')}';\nconst { generator, fileSink, discard } = connectors;\n${body}`);
    const def = (await import(jobFile)).default as JobDefinition;
    const job = await coordinator.submit({ artifact: await coordinator.putArtifact(readFileSync(jobFile)), description: buildJob(def, { args, parallelism: 1 }).description, args });
    if (coordinator.checkpointConfig(job.id).enabled) await waitFor('a completed checkpoint', () => (coordinator.checkpointStats(job.id).counts.completed > 0 ? true : undefined), 20_000, 50);
    else await waitFor('the job running', () => (job.status === 'RUNNING' ? true : undefined), 20_000, 50);
    await run({ coordinator, job, dir });
    await coordinator.cancel(job.id);
    await sleep(200);
  } finally {
    await worker.stop();
    await coordinator.stop();
    await system.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a rescale whose savepoint fails leaves a job that fails over and reads on, not one stalled as RUNNING', { timeout: 60_000 }, async () => {
  // Its sources stopped after the savepoint's barrier: the job must fail over to its latest checkpoint and read on.
  let failures = 1;
  const inject = (savepoints: FileSavepointStore) => {
    const create = savepoints.create.bind(savepoints);
    savepoints.create = async (...a) => {
      if (failures-- > 0) throw new Error('injected: the savepoint store refused the copy');
      return create(...a);
    };
  };
  const out = join(mkdtempSync(join(tmpdir(), 'weir-rescale-out-')), 'out');
  const body = `export default defineJob({ name: 'numbers', checkpoints: { intervalMs: 300, tolerableFailures: 3 } }, (env, args) => {
  env.source(generator({ ratePerSecond: 2000, make: (i) => String(i) }), { uid: 'gen' })
    .sink(fileSink({ directory: args.string('out'), delivery: 'exactly-once' }), { uid: 'files' });
});
`;
  try {
    await withRunningJob(body, { out }, async ({ coordinator, job }) => {
      const op = coordinator.control.rescale(job.id, 2);
      const view = await coordinator.operations.wait(op.requestId, 'rescale', job.id, 30_000);
      assert.equal(view.status, 'FAILED');
      assert.match(view.error?.message ?? '', /injected/);
      const lines = () => readdirSync(out).filter((f) => !f.startsWith('.')).reduce((n, f) => n + readFileSync(join(out, f), 'utf8').split('\n').filter(Boolean).length, 0);
      await waitFor('the job running again in a new attempt', () => (job.status === 'RUNNING' && job.attempt > 1 ? true : undefined), 20_000, 50);
      const before = lines();
      await waitFor('output growing again', () => (lines() > before ? true : undefined), 20_000, 100);
      assert.equal(coordinator.exceptions(job.id).history[0]?.code, 'WEIR_STOP_FAILED');
      assert.equal(job.parallelism, 1, 'still at the old parallelism');
    }, inject);
  } finally {
    rmSync(join(out, '..'), { recursive: true, force: true });
  }
});

test('a rescale whose graph would change the state\'s layout (maxParallelism derived from the parallelism) is refused before anything stops', { timeout: 60_000 }, async () => {
  const body = `export default defineJob({ name: 'derived', checkpoints: { intervalMs: 300 } }, (env, args) => {
  const p = args.int('p', 1);
  env.source(generator({ ratePerSecond: 1000, make: (i) => 'k' + (i % 10) }), { uid: 'gen' })
    .keyBy((k) => k)
    .sum(() => 1, { uid: 'count', maxParallelism: 64 * p })
    .sink(discard(), { uid: 'out' });
});
`;
  await withRunningJob(body, {}, async ({ coordinator, job }) => {
    // The job's args say p=1 at any parallelism: its build derives maxParallelism 64 from them, so
    // rescaling alone cannot change it; a job built from its parallelism can (emulated here by args).
    Object.assign(job, { args: { p: '2' } });
    const op = coordinator.control.rescale(job.id, 2);
    const view = await coordinator.operations.wait(op.requestId, 'rescale', job.id, 30_000);
    assert.equal(view.status, 'FAILED');
    assert.equal(view.error?.code, 'WEIR_RESCALE_GRAPH_CHANGED');
    assert.match(view.error?.message ?? '', /operator 'count' would be a keyed actor with maxParallelism 128 .* and is a keyed actor with maxParallelism 64/);
    assert.equal(job.status, 'RUNNING', 'nothing stopped');
    assert.equal(job.attempt, 1);
    assert.equal(job.parallelism, 1);
  });
});

test('with checkpoints off, a stop or rescale of a job whose bounded part has finished is refused before anything stops: no checkpoint holds that part\'s final state', { timeout: 60_000 }, async () => {
  const body = `export default defineJob({ name: 'parts', checkpoints: { intervalMs: 0 } }, (env) => {
  env.source(generator({ count: 100, make: (i) => i }), { uid: 'bounded' }).sink(discard(), { uid: 'done' });
  env.source(generator({ ratePerSecond: 500, make: (i) => i }), { uid: 'ticks' }).sink(discard(), { uid: 'drop' });
});
`;
  await withRunningJob(body, {}, async ({ coordinator, job }) => {
    await waitFor('the bounded part finished', () => (coordinator.view(job.id).vertices.find((v: { uid: string }) => v.uid === 'bounded')?.status === 'FINISHED' ? true : undefined), 20_000, 50);
    // Refused when asked (REST: 409), with the job left as it was.
    const refused = (e: unknown) => (e as { code?: string }).code === 'WEIR_SAVEPOINT_TRIGGER_REJECTED' && /subtask 0 of 'bounded' has finished and checkpoints are off/.test((e as Error).message);
    assert.throws(() => coordinator.control.rescale(job.id, 2), refused);
    assert.throws(() => coordinator.control.stop(job.id, { savepoint: true, drain: false }), refused);
    assert.throws(() => coordinator.control.stop(job.id, { savepoint: true, drain: true }), refused);
    await sleep(300);
    assert.equal(job.status, 'RUNNING', 'nothing stopped');
    assert.equal(job.attempt, 1);
  });
});
