/**
 * A rescale whose savepoint fails: its sources had stopped after the savepoint's barrier, so the
 * job must fail over to its latest checkpoint and read on, not stay RUNNING and read nothing.
 * In one process (as the embedded default runs): the real coordinator, worker, in-process data
 * plane and directory stores; the failure is injected once into the savepoint store's copy.
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

test('a rescale whose savepoint fails leaves a job that fails over and reads on, not one stalled as RUNNING', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-rescale-fail-'));
  const out = join(dir, 'out');
  const log = pino({ level: 'silent' });
  const system = new ActorSystem({ name: 'rescale-fail', transport: new InProcessTransport(), logger: log });
  const dataPlane = new InProcessDataPlane();
  const artifacts = new MemoryArtifactStore();
  const snapshots = new FileSnapshotStore(join(dir, 'state'));
  const savepoints = new FileSavepointStore(join(dir, 'state'), snapshots);
  const create = savepoints.create.bind(savepoints);
  let failures = 1;
  savepoints.create = async (...a) => {
    if (failures-- > 0) throw new Error('injected: the savepoint store refused the copy');
    return create(...a);
  };
  const coordinator = new Coordinator({ system, dataPlane, artifacts, snapshots, savepoints, log });
  const worker = new Worker({ workerId: 'w', slots: 4, system, dataPlane, artifacts, snapshots, log, cacheDir: join(dir, 'cache'), localChannels: false, nats: () => Promise.reject(new Error('this job uses no NATS')) });
  try {
    await coordinator.start();
    await worker.start();
    // A job module as `weir run` would upload it, importing the SDK where this checkout has it.
    const jobFile = join(dir, 'job.mjs');
    writeFileSync(
      jobFile,
      `import { defineJob } from '${import.meta.resolve('@weir/sdk')}';
import { generator, fileSink } from '${import.meta.resolve('@weir/sdk/connectors')}';
export default defineJob({ name: 'numbers', checkpoints: { intervalMs: 300, tolerableFailures: 3 } }, (env, args) => {
  env.source(generator({ ratePerSecond: 2000, make: (i) => String(i) }), { uid: 'gen' })
    .sink(fileSink({ directory: args.string('out'), delivery: 'exactly-once' }), { uid: 'files' });
});
`,
    );
    const def = (await import(jobFile)).default as JobDefinition;
    const args = { out };
    const job = await coordinator.submit({ artifact: await coordinator.putArtifact(readFileSync(jobFile)), description: buildJob(def, { args, parallelism: 1 }).description, args });
    await waitFor('a completed checkpoint', () => (coordinator.checkpointStats(job.id).counts.completed > 0 ? true : undefined), 20_000, 50);

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
    await coordinator.cancel(job.id);
    await sleep(200);
  } finally {
    await worker.stop();
    await coordinator.stop();
    await system.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a rescale whose graph would change the state\'s layout (maxParallelism derived from the parallelism) is refused before anything stops', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-rescale-graph-'));
  const log = pino({ level: 'silent' });
  const system = new ActorSystem({ name: 'rescale-graph', transport: new InProcessTransport(), logger: log });
  const snapshots = new FileSnapshotStore(join(dir, 'state'));
  const artifacts = new MemoryArtifactStore();
  const dataPlane = new InProcessDataPlane();
  const coordinator = new Coordinator({ system, dataPlane, artifacts, snapshots, savepoints: new FileSavepointStore(join(dir, 'state'), snapshots), log });
  const worker = new Worker({ workerId: 'w', slots: 4, system, dataPlane, artifacts, snapshots, log, cacheDir: join(dir, 'cache'), localChannels: false, nats: () => Promise.reject(new Error('this job uses no NATS')) });
  try {
    await coordinator.start();
    await worker.start();
    const jobFile = join(dir, 'job.mjs');
    writeFileSync(
      jobFile,
      `import { defineJob } from '${import.meta.resolve('@weir/sdk')}';
import { generator, discard } from '${import.meta.resolve('@weir/sdk/connectors')}';
export default defineJob({ name: 'derived', checkpoints: { intervalMs: 300 } }, (env, args) => {
  const p = args.int('p', 1);
  env.source(generator({ ratePerSecond: 1000, make: (i) => 'k' + (i % 10) }), { uid: 'gen' })
    .keyBy((k) => k)
    .sum(() => 1, { uid: 'count', maxParallelism: 64 * p })
    .sink(discard(), { uid: 'out' });
});
`,
    );
    const def = (await import(jobFile)).default as JobDefinition;
    const job = await coordinator.submit({ artifact: await coordinator.putArtifact(readFileSync(jobFile)), description: buildJob(def, { args: {}, parallelism: 1 }).description, args: {} });
    await waitFor('a completed checkpoint', () => (coordinator.checkpointStats(job.id).counts.completed > 0 ? true : undefined), 20_000, 50);
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
    await coordinator.cancel(job.id);
    await sleep(200);
  } finally {
    await worker.stop();
    await coordinator.stop();
    await system.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});
