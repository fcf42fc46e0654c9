/**
 * The REST client's file transfers (`weir savepoint import` and `export`) against a stand-in
 * coordinator (node:http on a free port): uploads are streamed with no overall time limit, and a
 * download never leaves a broken file or touches a previous one.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RestClient } from './rest-client.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const SUMMARY = { id: 'sp-0123456789abcdef', location: 'x', jobName: 'j', jobVersion: '1', jobId: '0123456789abcdef', checkpointId: 1, reason: 'manual', createdAt: 1, sizeBytes: 1 };

/** A stand-in coordinator: `handle` answers every request; it records what it was asked. */
async function coordinator(handle: (req: IncomingMessage, res: ServerResponse, body: () => Promise<number>) => void | Promise<void>): Promise<{ url: string; requests: string[]; server: Server }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    // Counts the body's bytes without keeping them.
    const body = () => new Promise<number>((resolve, reject) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => resolve(n));
      req.on('error', reject);
    });
    void handle(req, res, body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server };
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}

/** `weir savepoint import <file>` against `url`: exit code and output. */
function cliImport(file: string, url: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, 'savepoint', 'import', file], { timeout: 120_000, env: { ...process.env, WEIR_REST_URL: url } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** `weir savepoint import <file>` against `url`, SIGKILLed if it has not exited after `boundMs`. */
function cliExit(file: string, url: string, boundMs: number): Promise<{ code: number | null; stderr: string; killed: boolean }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [MAIN, 'savepoint', 'import', file], { env: { ...process.env, WEIR_REST_URL: url } }, (_err, _stdout, stderr) => {
      clearTimeout(timer);
      resolve({ code: child.exitCode, stderr, killed: child.signalCode === 'SIGKILL' });
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), boundMs);
  });
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weir-rest-client-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('weir savepoint import', () => {
  test('waits for the answer as long as the coordinator takes (an import of a large file takes minutes), past the 30 s of other requests', { timeout: 90_000 }, async () => {
    const file = join(dir, 'slow.weirsp');
    await writeFile(file, Buffer.alloc(1000, 7));
    const c = await coordinator(async (_req, res, body) => {
      const n = await body();
      setTimeout(() => json(res, 201, { ...SUMMARY, sizeBytes: n }), 31_000);
    });
    try {
      const r = await cliImport(file, c.url);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), SUMMARY.id);
      assert.deepEqual(c.requests, ['POST /savepoints/import']);
    } finally {
      await close(c.server);
    }
  });

  test('streams a file of more than 2 GiB (more than readFile takes) as the body', { timeout: 120_000 }, async () => {
    const file = join(dir, 'big.weirsp');
    const size = 2 ** 31 + 4096;
    // Sparse: no disk space is used.
    const handle = await open(file, 'w');
    await handle.truncate(size);
    await handle.close();
    let received = -1;
    let length: string | undefined;
    const c = await coordinator(async (req, res, body) => {
      length = req.headers['content-length'];
      received = await body();
      json(res, 201, SUMMARY);
    });
    try {
      const r = await cliImport(file, c.url);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(received, size);
      assert.equal(length, String(size));
    } finally {
      await close(c.server);
      await rm(file, { force: true });
    }
  });

  test('an import the coordinator refuses is its typed error; a missing file or a directory is WEIR_FILE_UNREADABLE before any request', { timeout: 30_000 }, async () => {
    const file = join(dir, 'refused.weirsp');
    await writeFile(file, 'WEIRSAV1 not really');
    const c = await coordinator(async (_req, res, body) => {
      await body();
      json(res, 409, { error: { code: 'WEIR_SAVEPOINT_EXISTS', message: "savepoint 'sp-0123456789abcdef' already exists here" } });
    });
    try {
      const rest = new RestClient(c.url);
      await assert.rejects(rest.upload('/savepoints/import', file), (e: { code?: string }) => e.code === 'WEIR_SAVEPOINT_EXISTS');
      for (const bad of [join(dir, 'nope.weirsp'), dir]) {
        await assert.rejects(rest.upload('/savepoints/import', bad), (e: { code?: string; message: string }) => e.code === 'WEIR_FILE_UNREADABLE' && e.message.includes(bad));
      }
      assert.equal(c.requests.length, 1);
    } finally {
      await close(c.server);
    }
  });

  test('the CLI exits as soon as an import is refused, also when the answer comes before the upload has finished', { timeout: 60_000 }, async () => {
    const file = join(dir, 'tiny.weirsp');
    await writeFile(file, 'hello');
    // Keeps an idle connection as long as fastify does (72 s): a CLI that kept its socket for reuse
    // stayed alive that long after printing the error.
    const c = await coordinator((_req, res) => json(res, 400, { error: { code: 'WEIR_SAVEPOINT_CORRUPT', message: 'bad magic' } }));
    c.server.keepAliveTimeout = 120_000;
    try {
      for (let i = 0; i < 8; i++) {
        const started = Date.now();
        const r = await cliExit(file, c.url, 15_000);
        assert.equal(r.code, 2, `run ${i}: ${r.stderr}`);
        assert.match(r.stderr, /WEIR_SAVEPOINT_CORRUPT/);
        assert.ok(!r.killed, `run ${i}: the CLI was still running ${Date.now() - started} ms after the refusal`);
      }
    } finally {
      await close(c.server);
    }
  });

  test('a coordinator that stops answering is WEIR_REST_TIMEOUT after the idle timeout; one that is not there is WEIR_REST_UNREACHABLE', { timeout: 30_000 }, async () => {
    const file = join(dir, 'unanswered.weirsp');
    await writeFile(file, Buffer.alloc(100));
    const c = await coordinator(async (_req, _res, body) => {
      await body(); // and never answers
    });
    try {
      const rest = new RestClient(c.url, { transferIdleTimeoutMs: 300 });
      await assert.rejects(rest.upload('/savepoints/import', file), (e: { code?: string; message: string }) => e.code === 'WEIR_REST_TIMEOUT' && /100 of 100 bytes sent/.test(e.message));
    } finally {
      await close(c.server);
    }
    await assert.rejects(new RestClient(c.url).upload('/savepoints/import', file), (e: { code?: string }) => e.code === 'WEIR_REST_UNREACHABLE');
  });
});

describe('weir savepoint export', () => {
  const EXPORT = Buffer.concat([Buffer.from('WEIRSAV1'), Buffer.alloc(300_000, 5)]);

  test('a directory, or a file in a directory that does not exist, is WEIR_FILE_UNWRITABLE naming the path, before any request', { timeout: 30_000 }, async () => {
    const c = await coordinator((_req, res) => void res.end(EXPORT));
    try {
      const rest = new RestClient(c.url);
      const inside = join(dir, 'exports');
      await mkdir(inside);
      await assert.rejects(rest.download('/savepoints/sp-0123456789abcdef/export', inside), (e: { code?: string; message: string }) => e.code === 'WEIR_FILE_UNWRITABLE' && e.message.includes(inside) && /is a directory/.test(e.message));
      const missing = join(dir, 'no-such-dir', 'sp.weirsp');
      await assert.rejects(rest.download('/savepoints/sp-0123456789abcdef/export', missing), (e: { code?: string; message: string }) => e.code === 'WEIR_FILE_UNWRITABLE' && e.message.includes(missing) && /does not exist/.test(e.message));
      assert.deepEqual(c.requests, []);
      assert.deepEqual(await readdir(inside), []);
    } finally {
      await close(c.server);
    }
  });

  test('a download that breaks off leaves the previous file at that path as it was, and no other file', { timeout: 30_000 }, async () => {
    const out = join(dir, 'keep');
    await mkdir(out);
    const file = join(out, 'sp.weirsp');
    await writeFile(file, 'PREVIOUS GOOD EXPORT');
    const c = await coordinator((_req, res) => {
      // Half the file, then the connection goes (a disposal or a coordinator crash mid-stream).
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(EXPORT.subarray(0, 100_000), () => setTimeout(() => res.destroy(), 50));
    });
    try {
      await assert.rejects(new RestClient(c.url).download('/savepoints/sp-0123456789abcdef/export', file), (e: { code?: string; message: string }) => e.code === 'WEIR_REST_INTERRUPTED' && /unchanged/.test(e.message));
      assert.equal(await readFile(file, 'utf8'), 'PREVIOUS GOOD EXPORT');
      assert.deepEqual(await readdir(out), ['sp.weirsp']);
    } finally {
      await close(c.server);
    }
  });

  test('a refused export is its typed error and leaves the previous file; a complete one replaces it', { timeout: 30_000 }, async () => {
    const out = join(dir, 'replace');
    await mkdir(out);
    const file = join(out, 'sp.weirsp');
    await writeFile(file, 'PREVIOUS GOOD EXPORT');
    let found = false;
    const c = await coordinator((_req, res) => {
      if (!found) return json(res, 404, { error: { code: 'WEIR_SAVEPOINT_NOT_FOUND', message: "no savepoint 'sp-0123456789abcdef'" } });
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(EXPORT);
    });
    try {
      const rest = new RestClient(c.url);
      await assert.rejects(rest.download('/savepoints/sp-0123456789abcdef/export', file), (e: { code?: string }) => e.code === 'WEIR_SAVEPOINT_NOT_FOUND');
      assert.equal(await readFile(file, 'utf8'), 'PREVIOUS GOOD EXPORT');
      found = true;
      assert.equal(await rest.download('/savepoints/sp-0123456789abcdef/export', file), EXPORT.length);
      assert.deepEqual(await readFile(file), EXPORT);
      assert.deepEqual(await readdir(out), ['sp.weirsp']);
    } finally {
      await close(c.server);
    }
  });
});
