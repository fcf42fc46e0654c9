import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { ActorSystem } from '@weir/actors';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { FileSavepointStore, FileSnapshotStore, InProcessDataPlane, keyGroupBlob, PROTOCOL_VERSION, MemoryArtifactStore, operatorStateBlob, planExecution, subjects, Worker, type CompletedCheckpoint, type SavepointMetadata } from '@weir/runtime';
import { buildJob, defineJob } from '@weir/sdk';
import { discard, generator } from '@weir/sdk/connectors';
import { Coordinator } from './coordinator.js';
import { canTransition, transition } from './job-status.js';
import { createRestServer } from './rest/server.js';
import { schedule } from './scheduler.js';
import { reportedBytes, savepointReferences } from './savepoints/index.js';
import { vertexStatus } from './job.js';

const desc = (p: number) => buildJob(defineJob({ name: 'j' }, (env) => env.source(generator({ count: 1 }), { uid: 's' }).rebalance().map((x) => x, { uid: 'm', parallelism: 1 }).sink(discard(), { uid: 'o', parallelism: 1 })), { parallelism: p }).description;

test('scheduler: slot sharing needs max parallelism slots, spread over workers', () => {
  const plan = planExecution(desc(3));
  const free = [0, 1, 2].flatMap((s) => [{ workerId: 'b', slot: s }, { workerId: 'a', slot: s }]);
  const r = schedule(plan, free);
  assert.equal(r.kind, 'scheduled');
  if (r.kind !== 'scheduled') return;
  assert.deepEqual(r.assignments.map((a) => `${a.workerId}${a.slot}`), ['a0', 'b0', 'a1']);
  assert.deepEqual(r.assignments[0]!.subtasks, [{ task: 0, subtask: 0 }, { task: 1, subtask: 0 }]);
  assert.deepEqual(r.assignments[2]!.subtasks, [{ task: 0, subtask: 2 }]);
  assert.deepEqual(schedule(plan, free.slice(0, 2)), { kind: 'not-enough-slots', needed: 3, available: 2 });
});

test('a vertex is RUNNING only once no subtask is deploying or initializing (restoring its state)', () => {
  assert.equal(vertexStatus(['RUNNING', 'INITIALIZING']), 'INITIALIZING');
  assert.equal(vertexStatus(['DEPLOYING', 'INITIALIZING', 'RUNNING']), 'DEPLOYING');
  assert.equal(vertexStatus(['RUNNING', 'FINISHED']), 'RUNNING');
  assert.equal(vertexStatus(['RUNNING', 'FAILED', 'INITIALIZING']), 'FAILED');
  assert.equal(vertexStatus(['CANCELING', 'INITIALIZING']), 'CANCELING');
  assert.equal(vertexStatus(['FINISHED', 'FINISHED']), 'FINISHED');
  assert.equal(vertexStatus(['FINISHED', 'CANCELED']), 'CANCELED');
});

test('job status transitions follow the table', () => {
  assert.equal(transition('j', 'CREATED', 'RUNNING'), 'RUNNING');
  assert.ok(canTransition('RUNNING', 'CANCELING') && canTransition('FAILING', 'FAILED'));
  for (const [from, to] of [['FINISHED', 'RUNNING'], ['CANCELED', 'RUNNING'], ['RUNNING', 'CREATED'], ['CANCELING', 'RUNNING']] as const) {
    assert.throws(() => transition('j', from, to), (e: { code?: string }) => e.code === 'WEIR_JOB_ILLEGAL_TRANSITION');
  }
});

test('REST: validated bodies, typed JSON errors', { timeout: 10_000 }, async () => {
  const log = pino({ level: 'silent' });
  const system = new ActorSystem({ name: 'c' });
  const dir = mkdtempSync(join(tmpdir(), 'weir-coord-'));
  const snapshots = new FileSnapshotStore(dir);
  const coordinator = new Coordinator({ system, dataPlane: new InProcessDataPlane(), artifacts: new MemoryArtifactStore(), snapshots, savepoints: new FileSavepointStore(dir, snapshots), log });
  await coordinator.start();
  const app = createRestServer(coordinator, log);
  try {
    const call = async (method: 'GET' | 'POST', url: string, payload?: string, type = 'application/json') => {
      const r = await app.inject({ method, url, ...(payload === undefined ? {} : { payload, headers: { 'content-type': type } }) });
      return { status: r.statusCode, body: r.json() };
    };
    assert.deepEqual((await call('GET', '/overview')).body, { clusterId: null, pid: process.pid, workers: 0, slotsTotal: 0, slotsAvailable: 0, jobs: { running: 0, finished: 0, canceled: 0, failed: 0, other: 0 } });
    assert.deepEqual((await call('GET', '/jobs')).body, { jobs: [] });
    const oneNode = desc(1).nodes[1]!;
    const cases: [string, 'GET' | 'POST', string, string | undefined, number, string][] = [
      ['unknown job', 'GET', '/jobs/0123456789abcdef', undefined, 404, 'WEIR_JOB_NOT_FOUND'],
      ['bad job id', 'GET', '/jobs/nope', undefined, 400, 'WEIR_REST_INVALID_BODY'],
      ['malformed JSON', 'POST', '/jobs', '{"artifact":', 400, 'WEIR_REST_MALFORMED_JSON'],
      ['missing fields', 'POST', '/jobs', '{"artifact":"x"}', 400, 'WEIR_REST_INVALID_BODY'],
      ['invalid graph', 'POST', '/jobs', JSON.stringify({ artifact: '0'.repeat(64), description: { ...desc(1), nodes: desc(1).nodes.map((n) => ({ ...n, uid: 'same' })) } }), 400, 'WEIR_GRAPH_DUPLICATE_UID'],
      ...(
        [
          ['an operator without inputs', (n: any[]) => delete n[1].inputs],
          ['a null input', (n: any[]) => (n[1].inputs = [null])],
          ['keyed as a string', (n: any[]) => (n[1].keyed = 'no')],
        ] as const
      ).map(([what, f]): [string, 'POST', string, string, number, string] => {
        const d = JSON.parse(JSON.stringify(desc(1)));
        f(d.nodes);
        return [what, 'POST', '/jobs', JSON.stringify({ artifact: '0'.repeat(64), description: d }), 400, 'WEIR_REST_INVALID_BODY'];
      }),
      ['checkpoints as a number', 'POST', '/jobs', JSON.stringify({ artifact: '0'.repeat(64), description: { ...desc(1), config: { checkpoints: 5 } } }), 400, 'WEIR_REST_INVALID_BODY'],
      ['more than 10,000 operators', 'POST', '/jobs', JSON.stringify({ artifact: '0'.repeat(64), description: { ...desc(1), nodes: Array.from({ length: 10_001 }, (_, i) => ({ ...oneNode, id: i, uid: `n${i}` })) } }), 400, 'WEIR_GRAPH_TOO_LARGE'],
      ['a body over 16 MiB', 'POST', '/jobs', JSON.stringify({ artifact: '0'.repeat(64), description: { ...desc(1), name: 'x'.repeat(17 * 1024 * 1024) } }), 413, 'WEIR_REST_BAD_REQUEST'],
      ['unknown artifact', 'POST', '/jobs', JSON.stringify({ artifact: '0'.repeat(64), description: desc(1) }), 404, 'WEIR_ARTIFACT_NOT_FOUND'],
      ['unknown route', 'GET', '/nope', undefined, 404, 'WEIR_REST_NOT_FOUND'],
      ['cancel unknown', 'POST', '/jobs/0123456789abcdef/cancel', undefined, 404, 'WEIR_JOB_NOT_FOUND'],
      ['savepoint of an unknown job', 'POST', '/jobs/0123456789abcdef/savepoints', '{}', 404, 'WEIR_JOB_NOT_FOUND'],
      ['stop of an unknown job', 'POST', '/jobs/0123456789abcdef/stop', '{"savepoint":true}', 404, 'WEIR_JOB_NOT_FOUND'],
      ['stop with an unknown field', 'POST', '/jobs/0123456789abcdef/stop', '{"savepiont":true}', 400, 'WEIR_REST_INVALID_BODY'],
      ['rescale to 0', 'POST', '/jobs/0123456789abcdef/rescaling', '{"parallelism":0}', 400, 'WEIR_REST_INVALID_BODY'],
      ['rescale without parallelism', 'POST', '/jobs/0123456789abcdef/rescaling', '{}', 400, 'WEIR_REST_INVALID_BODY'],
      ['unknown request id', 'GET', '/jobs/0123456789abcdef/savepoints/0123456789abcdef', undefined, 404, 'WEIR_OPERATION_NOT_FOUND'],
      ['bad savepoint id', 'GET', '/savepoints/sp-nope', undefined, 400, 'WEIR_REST_INVALID_BODY'],
      ['unknown savepoint', 'GET', '/savepoints/sp-0123456789abcdef', undefined, 404, 'WEIR_SAVEPOINT_NOT_FOUND'],
      ['export of an unknown savepoint', 'GET', '/savepoints/sp-0123456789abcdef/export', undefined, 404, 'WEIR_SAVEPOINT_NOT_FOUND'],
      ['check against an unknown savepoint', 'POST', '/savepoints/sp-0123456789abcdef/check', JSON.stringify({ description: desc(1) }), 404, 'WEIR_SAVEPOINT_NOT_FOUND'],
      ['list with an unknown filter', 'GET', '/savepoints?name=x', undefined, 400, 'WEIR_REST_INVALID_BODY'],
      // The description is checked in its shape before its meaning, for a check as for a submit.
      ...[[null], ['x'], [{ ...desc(1).nodes[0], inputs: undefined }], [{ ...desc(1).nodes[0], state: 'value' }], [{ ...desc(1).nodes[0], inputs: [null] }]].flatMap((nodes): [string, 'POST', string, string, number, string][] => [
        [`check with nodes ${JSON.stringify(nodes)}`, 'POST', '/savepoints/sp-0123456789abcdef/check', JSON.stringify({ description: { ...desc(1), nodes } }), 400, 'WEIR_REST_INVALID_BODY'],
        [`submit with nodes ${JSON.stringify(nodes)}`, 'POST', '/jobs', JSON.stringify({ artifact: '0'.repeat(64), description: { ...desc(1), nodes } }), 400, 'WEIR_REST_INVALID_BODY'],
      ]),
    ];
    for (const [what, method, url, payload, status, code] of cases) {
      const r = await call(method, url, payload);
      assert.equal(r.status, status, what);
      assert.equal(r.body.error.code, code, what);
      assert.ok(r.body.error.message.length > 10, what);
    }
    assert.deepEqual((await call('GET', '/savepoints')).body, { savepoints: [] });
    const del = await app.inject({ method: 'DELETE', url: '/savepoints/sp-0123456789abcdef' });
    assert.equal(del.statusCode, 404);
    assert.equal(del.json().error.code, 'WEIR_SAVEPOINT_NOT_FOUND');
    const garbage = await app.inject({ method: 'POST', url: '/savepoints/import', payload: Buffer.from('not an export'), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(garbage.statusCode, 400);
    assert.equal(garbage.json().error.code, 'WEIR_SAVEPOINT_CORRUPT');
    const empty = await app.inject({ method: 'POST', url: '/artifacts', payload: Buffer.alloc(0), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(empty.statusCode, 400);
    const put = await app.inject({ method: 'POST', url: '/artifacts', payload: Buffer.from('export default 1'), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(put.statusCode, 201);
    assert.match(put.json().artifact, /^[0-9a-f]{64}$/);
  } finally {
    await app.close();
    await coordinator.stop();
    await system.shutdown();
  }
});

test('reportedBytes: a detached savepoint\'s bytes per operator, summed over subtasks; none if any ack lacks them', () => {
  const ack = (ops: Record<string, number | undefined>) => ({ operators: Object.fromEntries(Object.entries(ops).map(([uid, b]) => [uid, { keyGroups: {}, ...(b === undefined ? {} : { savepointBytes: b }) }])) });
  assert.deepEqual(reportedBytes([ack({ src: 18, count: 1000 }), ack({ src: 18, count: 2000 })]), { src: 36, count: 3000 });
  assert.deepEqual(reportedBytes([]), {});
  assert.deepEqual(reportedBytes([ack({ constructor: 5, toString: 1 }), ack({ constructor: 7, toString: 1 })]), { constructor: 12, toString: 2 });
  assert.equal(reportedBytes([ack({ src: 18 }), ack({ src: undefined })]), undefined);
});

test('savepointReferences: each chained key group\'s part i from chain blob i, over every subtask and operator; a chain longer than its parts is refused', () => {
  const refs = savepointReferences('j1', [
    { operators: { count: { keyGroups: { 3: ['ks/count/3', 'ks/count/3/1', 'ks/count/3/2'], 4: ['ks/count/4'] }, savepointChains: { 3: ['ks/count/3/1-5-base', 'ks/count/3/1-6-delta'] } } } },
    { operators: { count: { keyGroups: { 9: ['ks/count/9'] }, savepointChains: { 9: ['ks/count/9/1-6-base'] } }, src: { keyGroups: {}, operatorState: 'os/src/1' } } },
  ]);
  assert.deepEqual(refs, {
    jobId: 'j1',
    copies: [
      { from: 'ks/count/3/1-5-base', to: 'ks/count/3' },
      { from: 'ks/count/3/1-6-delta', to: 'ks/count/3/1' },
      { from: 'ks/count/9/1-6-base', to: 'ks/count/9' },
    ],
  });
  assert.deepEqual(savepointReferences('j1', []).copies, []);
  assert.throws(() => savepointReferences('j1', [{ operators: { count: { keyGroups: { 1: ['ks/count/1'] }, savepointChains: { 1: ['a', 'b'] } } } }]), /WEIR_INTERNAL|2 blobs/);
});

test('a registered worker with no subscriber (its process is gone) is dropped: by the probe, and by a deployment that finds it', { timeout: 20_000 }, async () => {
  const log = pino({ level: 'silent' });
  const dir = mkdtempSync(join(tmpdir(), 'weir-coord-'));
  const snapshots = new FileSnapshotStore(dir);
  const register = (system: ActorSystem, id: string) => system.ref(subjects.coordinator).ask({ type: 'register', protocol: PROTOCOL_VERSION, workerId: id, slots: 1, host: 'h', pid: 1, startedAt: Date.now() }, { timeoutMs: 1_000 });
  const waitUntil = async (what: string, ok: () => boolean) => {
    for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(ok(), what);
  };

  // No actor 'worker-gone' exists: the in-process transport answers as NATS does for a dead process.
  const probed = new ActorSystem({ name: 'c1' });
  const c1 = new Coordinator({ system: probed, dataPlane: new InProcessDataPlane(), artifacts: new MemoryArtifactStore(), snapshots, savepoints: new FileSavepointStore(dir, snapshots), log, workerGoneGraceMs: 100 });
  await c1.start();
  try {
    // A worker of another version (or from before versions were sent) is refused, and not listed.
    for (const protocol of [undefined, PROTOCOL_VERSION + 1]) {
      await assert.rejects(
        probed.ref(subjects.coordinator).ask({ type: 'register', ...(protocol === undefined ? {} : { protocol }), workerId: 'old', slots: 1, host: 'h', pid: 2, startedAt: Date.now() }, { timeoutMs: 1_000 }),
        (e: { code?: string; message: string }) => e.code === 'WEIR_WORKER_PROTOCOL_MISMATCH' && /same Weir version/.test(e.message),
      );
    }
    await register(probed, 'gone');
    assert.deepEqual(c1.listWorkers().map((w) => w.id), ['gone']);
    await waitUntil('the probe dropped the worker', () => c1.listWorkers().length === 0);
  } finally {
    await c1.stop();
  }

  const deploying = new ActorSystem({ name: 'c2' });
  const artifacts = new MemoryArtifactStore();
  const c2 = new Coordinator({ system: deploying, dataPlane: new InProcessDataPlane(), artifacts, snapshots, savepoints: new FileSavepointStore(dir, snapshots), log, workerGoneGraceMs: 3_600_000 });
  await c2.start();
  try {
    await register(deploying, 'gone');
    const job = await c2.submit({ artifact: await c2.putArtifact(new Uint8Array([1])), description: desc(1) });
    await waitUntil('the deployment failed', () => c2.exceptions(job.id).history.length > 0);
    const failure = c2.exceptions(job.id).history[0]!;
    assert.equal(failure.code, 'WEIR_WORKER_LOST');
    assert.match(failure.message, /worker gone is gone: NATS has no subscriber for it/);
    assert.deepEqual(c2.listWorkers(), [], 'the next attempt is scheduled without it');
  } finally {
    await c2.stop();
  }
});

test('the coordinator actor answers bad messages with their error and keeps going (no restart budget to run out)', { timeout: 10_000 }, async () => {
  const system = new ActorSystem({ name: 'bogus' });
  const dir = mkdtempSync(join(tmpdir(), 'weir-coord-'));
  const snapshots = new FileSnapshotStore(dir);
  const coordinator = new Coordinator({ system, dataPlane: new InProcessDataPlane(), artifacts: new MemoryArtifactStore(), snapshots, savepoints: new FileSavepointStore(dir, snapshots), log: pino({ level: 'silent' }) });
  await coordinator.start();
  try {
    const ref = system.ref<unknown>(subjects.coordinator);
    // Twice the default budget of 10 restarts a minute: with restarts the actor would be stopped by now.
    for (let i = 0; i < 20; i++) {
      const bogus = i % 3 === 0 ? null : i % 3 === 1 ? { type: 'bogus', i } : 42;
      await assert.rejects(ref.ask(bogus, { timeoutMs: 1_000 }), (e: { code?: string; message?: string }) => e.code === 'WEIR_PROTOCOL_UNKNOWN_MESSAGE' && /coordinator got/.test(e.message ?? ''), `message ${i}`);
    }
    assert.deepEqual(await ref.ask({ type: 'heartbeat', workerId: 'nobody' }, { timeoutMs: 1_000 }), { known: false });
  } finally {
    await coordinator.stop();
    await system.shutdown();
  }
});

interface InProcess {
  readonly coordinator: Coordinator;
  readonly artifacts: MemoryArtifactStore;
  readonly snapshots: FileSnapshotStore;
  readonly workers: Worker[];
}

/**
 * A coordinator and workers (`slots` each, by id) in this process on a fresh directory, started
 * after `prepare` may patch the stores or workers; all stopped and deleted after `run`.
 */
async function withInProcessCluster(workers: Record<string, number>, run: (c: InProcess) => Promise<void>, prepare?: (c: InProcess) => void): Promise<void> {
  const log = pino({ level: 'silent' });
  const dir = mkdtempSync(join(tmpdir(), 'weir-coord-'));
  const snapshots = new FileSnapshotStore(dir);
  const system = new ActorSystem({ name: 'in-process' });
  const artifacts = new MemoryArtifactStore();
  const dataPlane = new InProcessDataPlane();
  const coordinator = new Coordinator({ system, dataPlane, artifacts, snapshots, savepoints: new FileSavepointStore(dir, snapshots), log });
  const c: InProcess = {
    coordinator,
    artifacts,
    snapshots,
    workers: Object.entries(workers).map(([id, slots]) => new Worker({ workerId: id, slots, system, dataPlane, artifacts, snapshots, log, cacheDir: join(dir, `cache-${id}`), localChannels: false, nats: () => Promise.reject(new Error('no NATS here')) })),
  };
  prepare?.(c);
  try {
    await coordinator.start();
    for (const w of c.workers) await w.start();
    await run(c);
  } finally {
    for (const w of c.workers) await w.stop();
    await coordinator.stop();
    await system.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Submit a job module whose body (after the SDK imports, with generator and discard in scope) is `body`, at parallelism 1. */
async function submitModule({ coordinator, artifacts }: InProcess, body: string): Promise<string> {
  const source = `import { defineJob } from '${import.meta.resolve('@weir/sdk')}';\nimport { generator, discard } from '${import.meta.resolve('@weir/sdk/connectors')}';\n${body}`;
  const artifact = await artifacts.put(new TextEncoder().encode(source));
  const def = (await import(`data:text/javascript,${encodeURIComponent(source)}`)).default;
  return (await coordinator.submit({ artifact, description: buildJob(def, { parallelism: 1 }).description })).id;
}

/** Until the job is in one of `states` (or 15 s passed). */
async function settle(coordinator: Coordinator, jobId: string, states: readonly string[]): Promise<void> {
  for (let i = 0; i < 300 && !states.includes(coordinator.view(jobId).state); i++) await new Promise((r) => setTimeout(r, 50));
}

test('a bundle that throws at import on the worker fails the job at once (WEIR_JOB_IMPORT_FAILED), not restarted: it would fail the same way', { timeout: 20_000 }, async () => {
  await withInProcessCluster({ w: 1 }, async ({ coordinator, artifacts }) => {
    const artifact = await artifacts.put(new TextEncoder().encode(`// ${Math.random()}\nthrow new Error('boom at import');\n`));
    const job = await coordinator.submit({ artifact, description: desc(1) });
    await settle(coordinator, job.id, ['FAILED']);
    const view = coordinator.view(job.id);
    assert.equal(view.state, 'FAILED');
    assert.equal(view.restarts, 0);
    assert.equal(view.failure?.code, 'WEIR_JOB_IMPORT_FAILED');
    assert.match(view.failure?.message ?? '', /threw while it was imported: boom at import/);
  });
});

/** A coordinator on a fresh directory holding savepoint `sp` of a job of desc(1)'s operators (the source's position as state), with its REST server. */
async function withSavepoint(run: (c: { coordinator: Coordinator; app: ReturnType<typeof createRestServer>; snapshots: FileSnapshotStore; sp: SavepointMetadata; dir: string; artifact: string }) => Promise<void>): Promise<void> {
  const log = pino({ level: 'silent' });
  const system = new ActorSystem({ name: 'c' });
  const dir = mkdtempSync(join(tmpdir(), 'weir-coord-'));
  const snapshots = new FileSnapshotStore(dir);
  const savepoints = new FileSavepointStore(dir, snapshots);
  const source = 'aaaaaaaaaaaaaaaa';
  await snapshots.fence(source, 1);
  await snapshots.writeBlobs(source, 1, [{ name: operatorStateBlob('s', 0, 1, 5), bytes: new Packr({ moreTypes: true }).pack({ v: 1, value: { seq: 3 } }) }]);
  const checkpoint: CompletedCheckpoint = { formatVersion: 1, id: 5, jobId: source, attempt: 1, timestamp: 1, completedAt: 2, finished: [], stateBytes: 0, writtenBytes: 0, operators: { s: { parallelism: 1, maxParallelism: 1, keyGroups: {}, operatorState: { 0: operatorStateBlob('s', 0, 1, 5) } } } };
  await snapshots.commitCheckpoint(source, 1, checkpoint);
  const sp = await savepoints.create(checkpoint, { jobId: source, jobName: 'j', jobVersion: '1', reason: 'manual', operators: { s: { kind: 'source', keyed: false } } });
  const coordinator = new Coordinator({ system, dataPlane: new InProcessDataPlane(), artifacts: new MemoryArtifactStore(), snapshots, savepoints, log });
  await coordinator.start();
  const app = createRestServer(coordinator, log);
  try {
    await run({ coordinator, app, snapshots, sp, dir, artifact: await coordinator.putArtifact(new Uint8Array([1])) });
  } finally {
    await app.close();
    await coordinator.stop();
    await system.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('REST: a savepoint operator named like a property of Object.prototype is not found, not a 500', { timeout: 10_000 }, async () => {
  await withSavepoint(async ({ app, sp }) => {
    for (const operator of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const r = await app.inject({ method: 'GET', url: `/savepoints/${sp.id}/inspect?operator=${operator}` });
      assert.equal(r.statusCode, 404, operator);
      assert.equal(r.json().error.code, 'WEIR_SAVEPOINT_OPERATOR_NOT_FOUND', operator);
    }
    const ok = await app.inject({ method: 'GET', url: `/savepoints/${sp.id}/inspect?operator=s` });
    assert.deepEqual(ok.json().sample, { operator: 's', keys: 0, keyGroupsRead: 0, entries: [{ subtask: 0, value: { seq: 3 } }] });
  });
});

test('a start from a savepoint whose restore fails leaves no job data behind', { timeout: 10_000 }, async () => {
  await withSavepoint(async ({ coordinator, sp, dir, artifact }) => {
    const jobDirs = () => readdirSync(dir).filter((d) => d !== 'savepoints' && d !== sp.jobId);
    // As a disposal running meanwhile would: the blob goes after the compatibility check.
    rmSync(join(dir, 'savepoints', sp.id, 'blobs', encodeURIComponent('os/s/0')));
    await assert.rejects(coordinator.submit({ artifact, description: desc(1), fromSavepoint: sp.id }), (e: { code?: string }) => e.code === 'WEIR_SNAPSHOT_MISSING');
    assert.deepEqual(jobDirs(), [], 'the fence and whatever was copied are deleted');
    assert.deepEqual(coordinator.listJobs(), []);
  });
});

test('REST inspect reads an operator a few key groups at a time and stops once it has its sample; count=true reads them all', { timeout: 10_000 }, async () => {
  await withSavepoint(async ({ app, snapshots, coordinator }) => {
    const packr = new Packr({ moreTypes: true });
    const job = 'bbbbbbbbbbbbbbbb';
    await snapshots.fence(job, 1);
    const groups = 64;
    const names = Array.from({ length: groups }, (_, g) => keyGroupBlob('count', g, 1, 5, 'base'));
    // Two keys in each key group.
    await snapshots.writeBlobs(job, 1, names.map((name, g) => ({ name, bytes: packr.pack({ v: 1, base: true, flat: [`a${g}`, { n: g }, `b${g}`, { n: g }] }) })));
    const checkpoint: CompletedCheckpoint = { formatVersion: 1, id: 5, jobId: job, attempt: 1, timestamp: 1, completedAt: 2, finished: [], stateBytes: 0, writtenBytes: 0, operators: { count: { parallelism: 1, maxParallelism: groups, keyGroups: Object.fromEntries(names.map((n, g) => [g, [n]])), operatorState: {} } } };
    await snapshots.commitCheckpoint(job, 1, checkpoint);
    const store = coordinator.savepoints.store;
    const sp = await store.create(checkpoint, { jobId: job, jobName: 'k', jobVersion: '1', reason: 'manual', operators: { count: { kind: 'actor', keyed: true, state: { n: 'value' } } } });
    const reads: number[] = [];
    const readBlobs = store.readBlobs.bind(store);
    store.readBlobs = async (id, blobNames) => {
      reads.push(blobNames.length);
      return readBlobs(id, blobNames);
    };
    const sampled = (await app.inject({ method: 'GET', url: `/savepoints/${sp.id}/inspect?operator=count&limit=3` })).json();
    assert.deepEqual(sampled.sample.entries.map((e: { key: string }) => e.key), ['a0', 'b0', 'a1']);
    assert.ok(reads.reduce((a, b) => a + b, 0) <= 4, `read ${JSON.stringify(reads)}`);
    assert.equal(sampled.sample.keys, 2 * sampled.sample.keyGroupsRead, 'keys of the key groups read');
    reads.length = 0;
    const counted = (await app.inject({ method: 'GET', url: `/savepoints/${sp.id}/inspect?operator=count&limit=3&count=true` })).json();
    assert.equal(counted.sample.keys, 2 * groups);
    assert.equal(counted.sample.keyGroupsRead, groups);
    assert.equal(counted.sample.entries.length, 3);
    assert.ok(Math.max(...reads) <= 4 && reads.reduce((a, b) => a + b, 0) === groups, `read ${JSON.stringify(reads)}`);
  });
});

test('a part that ends while another slot is still deploying waits for its final checkpoint, and the job finishes (its report is kept until the attempt runs)', { timeout: 30_000 }, async () => {
  // Worker b loads the bundle slowly: slot 0's tasks on a run and end before the attempt is RUNNING.
  const slowLoad = ({ workers: [, b] }: InProcess) => {
    const modules = (b as unknown as { modules: { load: (x: string) => Promise<unknown> } }).modules;
    const load = modules.load.bind(modules);
    modules.load = async (x) => {
      await new Promise((r) => setTimeout(r, 1500));
      return load(x);
    };
  };
  await withInProcessCluster({ a: 1, b: 1 }, async (c) => {
    const job = await submitModule(c, `export default defineJob({ name: 'early', checkpoints: { intervalMs: 600_000, timeoutMs: 2000 }, restartStrategy: { type: 'fixed-delay', attempts: 1, delayMs: 100 } }, (env) => {
  env.source(generator({ count: 10, make: (i) => 'k' + (i % 3) }), { uid: 'gen', parallelism: 1 }).keyBy((k) => k).sum(() => 1, { uid: 'count', parallelism: 1 }).sink(discard(), { uid: 'out', parallelism: 1 });
  env.source(generator({ count: 10, make: (i) => i }), { uid: 'gen2', parallelism: 2 }).sink(discard(), { uid: 'out2', parallelism: 2 });
});
`);
    // No periodic checkpoint comes within the test (10 minutes apart): only the final ones can end it.
    await settle(c.coordinator, job, ['FINISHED', 'FAILED']);
    assert.equal(c.coordinator.view(job).state, 'FINISHED', JSON.stringify(c.coordinator.exceptions(job).history));
    assert.equal(c.coordinator.view(job).restarts, 0);
  }, slowLoad);
});

test('a part whose input ends while a checkpoint it took earlier is still being written does not wait for the next interval to finish', { timeout: 30_000 }, async () => {
  // Slow state writes: checkpoint 1 (triggered when the short part ends) is still in progress when the long part ends.
  const slowWrites = ({ snapshots }: InProcess) => {
    const writeBlobs = snapshots.writeBlobs.bind(snapshots);
    snapshots.writeBlobs = async (...a) => {
      await new Promise((r) => setTimeout(r, 1000));
      return writeBlobs(...a);
    };
  };
  await withInProcessCluster({ w: 2 }, async (c) => {
    const job = await submitModule(c, `export default defineJob({ name: 'late', checkpoints: { intervalMs: 600_000 } }, (env) => {
  env.source(generator({ count: 5, make: (i) => i }), { uid: 'short' }).sink(discard(), { uid: 'a' });
  env.source(generator({ count: 300, ratePerSecond: 500, make: (i) => i }), { uid: 'long' }).sink(discard(), { uid: 'b' });
});
`);
    // The next periodic checkpoint is 10 minutes away: before, the long part waited for it.
    await settle(c.coordinator, job, ['FINISHED', 'FAILED']);
    assert.equal(c.coordinator.view(job).state, 'FINISHED');
    assert.ok(c.coordinator.checkpointStats(job).counts.completed >= 2, 'the short part\'s final checkpoint, and one after the long part ended');
  }, slowWrites);
});
