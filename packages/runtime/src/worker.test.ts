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
