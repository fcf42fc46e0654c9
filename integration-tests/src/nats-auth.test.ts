import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connectorConnections } from '@weir/cli';
import { freePort, waitFor } from './harness.js';

/** Connector connections with credentials, against a real nats-server that requires them. */
describe('connector NATS authentication (a real nats-server with auth)', { timeout: 60_000 }, () => {
  let server: ChildProcess;
  let url = '';
  const dir = mkdtempSync(join(tmpdir(), 'weir-auth-'));

  before(async () => {
    const port = await freePort();
    url = `nats://127.0.0.1:${port}`;
    const conf = join(dir, 'auth.conf');
    writeFileSync(conf, `listen: 127.0.0.1:${port}\nauthorization { users = [ { user: "weir", password: "s3cret" } ] }\n`);
    server = spawn('nats-server', ['-c', conf], { stdio: 'ignore' });
    await waitFor('nats-server with auth', async () => {
      try {
        const { connect } = await import('@nats-io/transport-node');
        const nc = await connect({ servers: url, user: 'weir', pass: 's3cret' });
        await nc.close();
        return true;
      } catch {
        return undefined;
      }
    }, 15_000, 100);
  });
  after(() => {
    server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('user and password reach the server; wrong ones and a missing credentials file are clear errors', async () => {
    const conns = connectorConnections('nats://127.0.0.1:1');
    try {
      const nc = await conns.get({ servers: url, user: 'weir', pass: 's3cret' });
      assert.equal(nc.isClosed(), false);
      assert.equal(await conns.get({ servers: url, user: 'weir', pass: 's3cret' }), nc, 'shared per options');
      await assert.rejects(conns.get({ servers: url, user: 'weir', pass: 'wrong' }), (e: { code?: string; message: string }) => e.code === 'WEIR_NATS_UNREACHABLE' && /check the credentials/.test(e.message));
      await assert.rejects(conns.get({ servers: url, credsFile: join(dir, 'missing.creds') }), (e: { code?: string }) => e.code === 'WEIR_CONFIG_INVALID');
    } finally {
      await conns.close();
    }
  });
});
