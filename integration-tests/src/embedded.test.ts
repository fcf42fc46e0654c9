import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { commitMarkerStream } from '@weir/runtime';
import { defaultGeneratedLine, seededRandom } from '@weir/sdk/connectors';
import { spawn } from 'node:child_process';
import { CLI, FIXTURES, sleep, uniqueId, waitFor, weir, withNats, WORDCOUNT } from './harness.js';
import { readCounts } from './text.js';

/** The embedded default: no WEIR_REST_URL, everything in the `weir run` process. */
const EMBEDDED = { WEIR_REST_URL: '' };

describe('embedded default', { timeout: 240_000 }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'weir-emb-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('npm start: wordcount over the bundled sample prints the top words', async () => {
    const r = await weir(['run', WORDCOUNT], EMBEDDED);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /running 'wordcount' on the embedded default/);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 10);
    assert.match(lines[0]!, /^\s*1\. the\s+29$/);
    assert.match(lines[1]!, /^\s*2\. of\s+21$/);
  });

  test('checkpoints go to files and a failure restores from the latest one', async () => {
    const out = join(tmp, 'restore-out');
    const checkpoints = join(tmp, 'checkpoints');
    const r = await weir(['run', join(FIXTURES, 'count-throw-once.ts'), '-p', '2', '--arg', `out=${out}`, '--arg', `marker=${join(tmp, 'thrown')}`], { ...EMBEDDED, WEIR_CHECKPOINT_DIR: checkpoints });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /FINISHED in .* after 1 restart\(s\) from checkpoints/);
    assert.ok(existsSync(join(tmp, 'thrown')), 'the record threw');
    const last = new Map<string, number>();
    let lines = 0;
    for (const f of readdirSync(out)) {
      for (const line of readFileSync(join(out, f), 'utf8').split('\n')) {
        if (!line) continue;
        lines++;
        const [k, n] = line.split(',');
        last.set(k!, Math.max(last.get(k!) ?? 0, Number(n)));
      }
    }
    assert.equal(last.size, 1000);
    for (const [k, n] of last) assert.equal(n, 200, `count of ${k}`);
    // Restarting from scratch would emit the first 150,000 updates again; a restore replays only what followed the checkpoint.
    assert.ok(lines < 200_000 + 150_000, `replayed ${lines - 200_000} updates: restored from a checkpoint, not from the start`);
    assert.deepEqual(readdirSync(checkpoints), [], "a finished job's checkpoints are deleted");
  });

  test('generator source at parallelism 2: counts equal the generator text counted here', async () => {
    const words = 200_000;
    const expected = new Map<string, number>();
    for (let i = 0; i < words / 10; i++) for (const w of defaultGeneratedLine(i, seededRandom(3, i)).split(' ')) expected.set(w, (expected.get(w) ?? 0) + 1);
    const out = join(tmp, 'gen');
    const r = await weir(['run', WORDCOUNT, '-p', '2', '--arg', 'source=generator', '--arg', `words=${words}`, '--arg', 'seed=3', '--arg', 'output=file', '--arg', `out=${out}`], EMBEDDED);
    assert.equal(r.code, 0, r.stderr);
    const got = readCounts(out);
    assert.equal(got.lines, words);
    assert.deepEqual(got.counts, expected);
  });

  test('JetStream source to JetStream sink (real NATS)', async () => {
    const input = uniqueId('WEIR_IT_IN_');
    const output = uniqueId('WEIR_IT_OUT_');
    await withNats(async (nc) => {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: input, subjects: [`${input}.lines`] });
      await jsm.streams.add({ name: output, subjects: [`${output}.counts`] });
      try {
        const js = jetstream(nc);
        const expected = new Map<string, number>();
        for (let i = 0; i < 500; i++) {
          const line = `alpha beta ${i % 7 === 0 ? 'gamma' : 'delta'} w${i % 13}`;
          for (const w of line.split(' ')) expected.set(w, (expected.get(w) ?? 0) + 1);
          await js.publish(`${input}.lines`, line);
        }
        const r = await weir(['run', WORDCOUNT, '-p', '2', '--arg', 'source=jetstream', '--arg', `stream=${input}`, '--arg', 'bounded=true', '--arg', 'output=jetstream', '--arg', `out=${output}.counts`], EMBEDDED);
        assert.equal(r.code, 0, r.stderr);
        const info = await jsm.streams.info(output);
        assert.equal(info.state.messages, 2000, 'one update per word');
        const got = new Map<string, number>();
        const consumer = await js.consumers.get(output);
        for (let seq = 1; seq <= info.state.last_seq; seq++) {
          const m = await jsm.streams.getMessage(output, { seq });
          const u = m!.json<{ word: string; n: number }>();
          got.set(u.word, Math.max(got.get(u.word) ?? 0, u.n));
        }
        void consumer;
        assert.deepEqual(got, expected);
      } finally {
        await jsm.streams.delete(input);
        await jsm.streams.delete(output);
        await jsm.streams.delete(commitMarkerStream(output)).catch(() => undefined); // if its sink is exactly-once
      }
    });
  });

  test('a sink pointed at a subject no stream captures fails with a clear error, per the restart strategy', async () => {
    const r = await weir(['run', WORDCOUNT, '--restart-strategy', 'fixed-delay:1:10', '--arg', 'output=jetstream', '--arg', `out=${uniqueId('nowhere.')}`], EMBEDDED);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /WEIR_SINK_STREAM_NOT_FOUND: JetStream sink 'out': no stream captures subject/);
    assert.match(r.stderr, /not restarted after 1 restart\(s\): fixed-delay restart strategy exhausted/);
  });

  test('a Redis sink whose Redis is down, and a file sink whose directory cannot be written: clear errors, failover per the restart strategy', async () => {
    const sinkTo = join(FIXTURES, 'sink-to.ts');
    const redis = await weir(['run', sinkTo, '--restart-strategy', 'fixed-delay:1:10', '--arg', 'sink=redis', '--arg', 'url=redis://127.0.0.1:1', '--arg', 'key=unused'], EMBEDDED);
    assert.equal(redis.code, 1);
    assert.match(redis.stderr, /WEIR_SINK_REDIS_UNAVAILABLE: .*127\.0\.0\.1:1/);
    assert.match(redis.stderr, /not restarted after 1 restart\(s\)/);
    const blocker = join(tmp, 'a-file');
    writeFileSync(blocker, 'not a directory');
    const file = await weir(['run', sinkTo, '--restart-strategy', 'fixed-delay:1:10', '--arg', 'sink=file', '--arg', `dir=${join(blocker, 'out')}`], EMBEDDED);
    assert.equal(file.code, 1);
    assert.match(file.stderr, /WEIR_SINK_FILE_UNWRITABLE: .*a-file\/out/);
    assert.match(file.stderr, /not restarted after 1 restart\(s\)/);
  });

  test('exactly-once file sink on the embedded default: finished files hold every record once', async () => {
    const dir = join(tmp, 'eo-files');
    const r = await weir(['run', join(FIXTURES, 'sink-to.ts'), '--arg', 'sink=file', '--arg', `dir=${dir}`], EMBEDDED);
    assert.equal(r.code, 0, r.stderr);
    const lines = readdirSync(dir).filter((f) => !f.startsWith('.')).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => l !== ''));
    assert.deepEqual(lines.map(Number).sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.')), [], 'no in-progress or pending file is left');
  });

  test('Ctrl-C stops with a savepoint; resuming it at another parallelism gives the same top words as a run without a stop', async () => {
    const dir = join(tmp, 'sp-checkpoints');
    const env = { ...EMBEDDED, WEIR_CHECKPOINT_DIR: dir };
    const child = spawn(process.execPath, [CLI, 'run', WORDCOUNT, '-p', '2', '--arg', 'source=generator', '--arg', 'words=100000000'], { env: { ...process.env, ...env, WEIR_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor('the job running', () => (/embedded default/.test(stderr) ? true : undefined), 30_000, 50);
      await sleep(1500);
      child.kill('SIGINT');
      assert.equal(await Promise.race([exited, sleep(60_000).then(() => 'timeout')]), 0, stderr);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const sp = /savepoint (sp-[0-9a-f]{16}); resume with: weir run .* --from-savepoint sp-/.exec(stderr)?.[1];
    assert.ok(sp, stderr);
    const stoppedAt = Number(/lines 0\/(\d+)/.exec(stderr)?.[1]);
    const words = ['--arg', 'source=generator', '--arg', 'words=10000000'];
    assert.ok(stoppedAt > 0 && stoppedAt < 1_000_000, `stopped after ${stoppedAt} of 1,000,000 lines`);
    const resumed = await weir(['run', WORDCOUNT, '-p', '3', ...words, '--from-savepoint', sp], env);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(Number(/lines 0\/(\d+)/.exec(resumed.stderr)?.[1]), 1_000_000 - stoppedAt, 'the resumed job read only what the first one had not');
    const fresh = await weir(['run', WORDCOUNT, '-p', '1', ...words], env);
    assert.equal(resumed.stdout, fresh.stdout);
    assert.equal(resumed.stdout.trim().split('\n').length, 10);
  });

  test('a bad --restart-strategy is refused before anything runs', async () => {
    const r = await weir(['run', WORDCOUNT, '--restart-strategy', 'sometimes'], EMBEDDED);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--restart-strategy sometimes is invalid/);
    const bad = await weir(['run', WORDCOUNT, '--restart-strategy', '{"type":"fixed-delay","attempts":-1,"delayMs":5}'], EMBEDDED);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /WEIR_RESTART_STRATEGY_INVALID/);
  });
});
