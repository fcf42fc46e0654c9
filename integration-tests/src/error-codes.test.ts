import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { describe, test } from 'node:test';
import { cleanupCluster, FIXTURES, freePort, ProcessCluster, ROOT, uniqueId, weir, WORDCOUNT } from './harness.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

test('every error code in the source is documented in docs/errors.md, and nothing else is', () => {
  const used = new Set<string>();
  for (const pkg of readdirSync(join(ROOT, 'packages'))) {
    for (const f of sources(join(ROOT, 'packages', pkg, 'src'))) {
      for (const m of readFileSync(f, 'utf8').matchAll(/'(WEIR_[A-Z_]+[A-Z])'/g)) used.add(m[1]!);
    }
  }
  for (const env of ['WEIR_REST_URL', 'WEIR_NATS_URL', 'WEIR_CLUSTER_ID', 'WEIR_LOG_LEVEL', 'WEIR_SUPERVISOR_PID']) used.delete(env);
  const documented = new Set([...readFileSync(join(ROOT, 'docs/errors.md'), 'utf8').matchAll(/^\| `(WEIR_[A-Z_]+)` \|/gm)].map((m) => m[1]!));
  assert.deepEqual([...used].filter((c) => !documented.has(c)).sort(), [], 'codes used but not documented');
  assert.deepEqual([...documented].filter((c) => !used.has(c)).sort(), [], 'codes documented but never raised');
});

describe('a role that cannot start says why, closes what it opened and exits non-zero', { timeout: 120_000 }, () => {
  // Bounded: a process that hangs on an open connection is killed and shows as code null.
  const within = 20_000;

  for (const role of ['worker', 'coordinator']) {
    test(`weir ${role} with Redis unreachable`, async () => {
      const clusterId = uniqueId('ec');
      try {
        const args = role === 'coordinator' ? ['coordinator', '--rest-port', String(await freePort())] : ['worker'];
        const r = await weir(args, { WEIR_CLUSTER_ID: clusterId, WEIR_REDIS_URL: 'redis://127.0.0.1:1' }, within);
        assert.equal(r.code, 2, `exit code (null: still running after ${within} ms)\n${r.stderr}`);
        assert.match(r.stderr, /error WEIR_SNAPSHOT_STORE_UNAVAILABLE: cannot connect to Redis at redis:\/\/127\.0\.0\.1:1 \(connect ECONNREFUSED/);
        assert.doesNotMatch(r.stderr, /Unhandled error event/);
      } finally {
        await cleanupCluster(clusterId);
      }
    });
  }

  test('weir coordinator on a REST port that is taken', async () => {
    const clusterId = uniqueId('ec');
    const port = await freePort();
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
    try {
      const r = await weir(['coordinator', '--rest-port', String(port)], { WEIR_CLUSTER_ID: clusterId }, within);
      assert.equal(r.code, 2, `exit code (null: still running after ${within} ms)\n${r.stderr}`);
      assert.match(r.stderr, new RegExp(`error WEIR_REST_PORT_IN_USE: REST port ${port} on 127\\.0\\.0\\.1 is in use .*--rest-port`));
    } finally {
      await new Promise((resolve) => taken.close(resolve));
      await cleanupCluster(clusterId);
    }
  });

  test("weir cluster up does not report another cluster's coordinator on its port as its own", async () => {
    const other = new ProcessCluster();
    const clusterId = uniqueId('ec');
    try {
      await other.start([]);
      const port = new URL(other.restUrl).port;
      const r = await weir(['cluster', 'up', '--workers', '1', '--rest-port', port], { WEIR_CLUSTER_ID: clusterId }, 40_000);
      assert.equal(r.code, 1, `exit code (null: still running)\n${r.stderr}`);
      assert.doesNotMatch(r.stdout, /WEIR_REST_URL=/, 'no success line');
      assert.doesNotMatch(r.stderr, /cluster up:/);
      assert.match(r.stderr, new RegExp(`port ${port} is answered by another coordinator \\(pid \\d+, cluster ${other.clusterId}\\)`));
      assert.match(r.stderr, /WEIR_REST_PORT_IN_USE/);
      const ov = (await other.rest('GET', '/overview')).body;
      assert.equal(ov.clusterId, other.clusterId, 'the other cluster still answers');
    } finally {
      await other.stop();
      await cleanupCluster(clusterId);
    }
  });
});

test('weir run: a job module that throws at import, or whose build function throws, is a typed error naming the file (no stack)', { timeout: 60_000 }, async () => {
  for (const [fixture, code, cause] of [
    ['import-throws.ts', 'WEIR_JOB_IMPORT_FAILED', 'threw while it was imported: boom at import'],
    ['build-throws.ts', 'WEIR_JOB_BUILD_FAILED', "the build function of job 'build-throws' \\(job file .*build-throws\\.ts\\) threw: boom in build"],
  ] as const) {
    const r = await weir(['run', join(FIXTURES, fixture)], { WEIR_REST_URL: '' }, 30_000);
    assert.equal(r.code, 2, `${fixture}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`error ${code}: .*${fixture === 'import-throws.ts' ? 'job file .*import-throws\\.ts ' : ''}${cause}`), fixture);
    assert.doesNotMatch(r.stderr, /\n\s+at /, `${fixture}: no stack trace`);
  }
});

test('flags refused at once: cluster up --rest-port 0, --restart-strategy null', { timeout: 60_000 }, async () => {
  const clusterId = uniqueId('ec');
  try {
    const up = await weir(['cluster', 'up', '--workers', '1', '--rest-port', '0'], { WEIR_CLUSTER_ID: clusterId }, 10_000);
    assert.equal(up.code, 2, up.stderr);
    assert.match(up.stderr, /error WEIR_CONFIG_INVALID: --rest-port 0 is invalid: must be 1\.\.65535/);
    const rs = await weir(['run', WORDCOUNT, '--restart-strategy', 'null'], { WEIR_REST_URL: '' }, 10_000);
    assert.equal(rs.code, 2, rs.stderr);
    assert.match(rs.stderr, /error WEIR_CONFIG_INVALID: --restart-strategy null is invalid: use 'none'/);
  } finally {
    await cleanupCluster(clusterId);
  }
});
