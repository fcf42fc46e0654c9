import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { ActorSystem } from '@weir/actors';
import { MemoryArtifactStore } from './artifacts.js';
import { InProcessDataPlane } from './channels/in-process.js';
import { FileSnapshotStore } from './snapshots/file-store.js';
import { subjects } from './subjects.js';
import { Worker } from './worker.js';

test('the worker actor answers failing messages with their error and keeps going (no restart budget to run out)', { timeout: 10_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-worker-'));
  const system = new ActorSystem({ name: 'w' });
  const worker = new Worker({
    workerId: 'w1',
    slots: 1,
    system,
    dataPlane: new InProcessDataPlane(),
    artifacts: new MemoryArtifactStore(),
    snapshots: new FileSnapshotStore(dir),
    log: pino({ level: 'silent' }),
    cacheDir: join(dir, 'cache'),
    nats: () => Promise.reject(new Error('no NATS in this test')),
    heartbeatIntervalMs: 60_000,
  });
  await worker.start();
  try {
    const ref = system.ref<unknown>(subjects.worker('w1'));
    const failing: [unknown, string][] = [
      [null, 'WEIR_PROTOCOL_UNKNOWN_MESSAGE'],
      [{ type: 'bogus' }, 'WEIR_PROTOCOL_UNKNOWN_MESSAGE'],
      [{ type: 'deploy', slot: 7 }, 'WEIR_UNKNOWN_SLOT'],
      [{ type: 'describe', artifact: '0'.repeat(64), args: {}, parallelism: 1 }, 'WEIR_ARTIFACT_NOT_FOUND'],
    ];
    // Twice the default budget of 10 restarts a minute: with restarts the actor would be stopped by now.
    for (let i = 0; i < 20; i++) {
      const [message, code] = failing[i % failing.length]!;
      await assert.rejects(ref.ask(message, { timeoutMs: 1_000 }), (e: { code?: string }) => e.code === code, `message ${i}`);
    }
    const status = (await ref.ask({ type: 'status' }, { timeoutMs: 1_000 })) as { workerId: string };
    assert.equal(status.workerId, 'w1');
  } finally {
    await worker.stop();
    await system.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a worker reports a bundle that throws at import or in its build function with the typed codes', { timeout: 10_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-worker-'));
  const system = new ActorSystem({ name: 'w' });
  const artifacts = new MemoryArtifactStore();
  const worker = new Worker({ workerId: 'w2', slots: 1, system, dataPlane: new InProcessDataPlane(), artifacts, snapshots: new FileSnapshotStore(dir), log: pino({ level: 'silent' }), cacheDir: join(dir, 'cache'), nats: () => Promise.reject(new Error('no NATS in this test')), heartbeatIntervalMs: 60_000 });
  await worker.start();
  try {
    const ref = system.ref<unknown>(subjects.worker('w2'));
    const put = (code: string) => artifacts.put(new TextEncoder().encode(`// ${Math.random()}\n${code}\n`));
    const importing = await put("throw new Error('boom at import');");
    await assert.rejects(ref.ask({ type: 'describe', artifact: importing, args: {}, parallelism: 1 }, { timeoutMs: 2_000 }), (e: { code?: string; message?: string }) =>
      e.code === 'WEIR_JOB_IMPORT_FAILED' && e.message!.includes(`job bundle ${importing} threw while it was imported: boom at import`));
    const building = await put("export default { [Symbol.for('weir.job')]: true, name: 'bb', version: '1', config: {}, build() { throw new Error('boom in build'); } };");
    await assert.rejects(ref.ask({ type: 'describe', artifact: building, args: {}, parallelism: 1 }, { timeoutMs: 2_000 }), (e: { code?: string; message?: string }) =>
      e.code === 'WEIR_JOB_BUILD_FAILED' && e.message!.includes(`the build function of job 'bb' (job bundle ${building}) threw: boom in build`));
  } finally {
    await worker.stop();
    await system.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});
