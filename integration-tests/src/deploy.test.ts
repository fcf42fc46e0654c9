/**
 * The deployment files (Dockerfile, deploy/docker-compose.yml, deploy/kubernetes/weir.yaml) kept
 * true to the code. No docker engine runs here, so the compose file's own coordinator and worker
 * commands and environment are started as OS processes (its service host names mapped to this
 * machine's NATS and Redis), a job runs on them, and a worker killed with SIGKILL is replaced by a
 * fresh one (what `restart: unless-stopped` does) while the job carries on. The Dockerfile and the
 * Kubernetes manifest are checked against the workspaces and against the compose file.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { cleanupCluster, CLI, freePort, NATS_URL, REDIS_URL, ROOT, uniqueId, waitFor, weir, WORDCOUNT } from './harness.js';

interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  deploy?: { replicas?: number };
}
const compose = parse(readFileSync(join(ROOT, 'deploy/docker-compose.yml'), 'utf8')) as { services: Record<string, ComposeService> };
const manifests = parseAllDocuments(readFileSync(join(ROOT, 'deploy/kubernetes/weir.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string; metadata: { name: string }; data?: Record<string, string>; spec?: any });
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

const service = (name: string): ComposeService => {
  const s = compose.services[name];
  assert.ok(s, `deploy/docker-compose.yml has a '${name}' service`);
  return s;
};
/** The value after `flag` in a command. */
const flagValue = (command: readonly string[], flag: string): string | undefined => {
  const i = command.indexOf(flag);
  return i >= 0 ? command[i + 1] : undefined;
};
/** A k8s Deployment's one container. */
const container = (deployment: string) => {
  const d = manifests.find((m) => m.kind === 'Deployment' && m.metadata.name === deployment);
  assert.ok(d, `deploy/kubernetes/weir.yaml has a Deployment '${deployment}'`);
  return d.spec.template.spec.containers[0] as { image: string; args: string[]; envFrom: { configMapRef: { name: string } }[] };
};

describe('deployment files', () => {
  test('Dockerfile: every workspace\'s package.json and every package\'s build reach the image, and its entry point is the CLI', () => {
    const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    for (const ws of root.workspaces) {
      assert.match(runtime, new RegExp(`^COPY ${ws}/package\\.json ${ws}/$`, 'm'), `the image's npm ci needs ${ws}/package.json`);
      if (ws.startsWith('packages/')) assert.match(runtime, new RegExp(`^COPY --from=build /weir/${ws}/dist ${ws}/dist$`, 'm'), `the image needs the build of ${ws}`);
    }
    const entry = /^ENTRYPOINT \["node", "\/weir\/(.+)"\]$/m.exec(runtime);
    assert.ok(entry, 'ENTRYPOINT runs node on a file under /weir');
    assert.equal(join(ROOT, entry[1]!), CLI);
    assert.ok(existsSync(CLI));
  });

  test('compose: the coordinator listens on every interface on the port it publishes; both roles use the one image and reach NATS and Redis by service name', () => {
    const coordinator = service('coordinator');
    const worker = service('worker');
    assert.equal(coordinator.command?.[0], 'coordinator');
    assert.equal(worker.command?.[0], 'worker');
    assert.equal(flagValue(coordinator.command!, '--rest-host'), '0.0.0.0', 'in a container, 127.0.0.1 is not reachable from outside');
    const port = flagValue(coordinator.command!, '--rest-port');
    assert.ok(coordinator.ports?.includes(`${port}:${port}`), `the coordinator publishes its REST port ${port}`);
    assert.equal(coordinator.image, worker.image);
    for (const s of [coordinator, worker]) {
      assert.equal(new URL(s.environment!.WEIR_NATS_URL!).hostname, 'nats');
      assert.equal(new URL(s.environment!.WEIR_REDIS_URL!).hostname, 'redis');
      assert.ok(s.environment!.WEIR_CLUSTER_ID);
    }
    assert.ok(compose.services.nats && compose.services.redis);
    assert.ok((worker.deploy?.replicas ?? 1) >= 2, 'two workers, so a job at parallelism 2 runs on two processes');
  });

  test('Kubernetes: the same commands, image and environment as compose, with host names that are Services of the manifest', () => {
    for (const [role, deployment] of [['coordinator', 'weir-coordinator'], ['worker', 'weir-worker']] as const) {
      const c = container(deployment);
      assert.deepEqual(c.args, service(role).command, `${deployment}'s args are the compose ${role}'s command`);
      assert.equal(c.image, service(role).image);
      const config = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === c.envFrom[0]!.configMapRef.name);
      assert.ok(config?.data, `the ConfigMap ${deployment} takes its environment from`);
      assert.deepEqual(Object.keys(config.data).sort(), Object.keys(service(role).environment!).sort());
      const services = new Set(manifests.filter((m) => m.kind === 'Service').map((m) => m.metadata.name));
      for (const key of ['WEIR_NATS_URL', 'WEIR_REDIS_URL']) assert.ok(services.has(new URL(config.data[key]!).hostname), `${key} names a Service of the manifest`);
    }
    const rest = manifests.find((m) => m.kind === 'Service' && m.metadata.name === 'weir-coordinator');
    assert.equal(String(rest?.spec.ports[0].port), flagValue(service('coordinator').command!, '--rest-port'));
  });
});

describe('the compose topology as OS processes (real NATS and Redis)', { timeout: 180_000 }, () => {
  const clusterId = uniqueId('dp');
  const processes = new Set<ChildProcess>();
  let restUrl = '';
  let output = '';

  /** A compose service's command with its environment; its hosts are this machine's services. */
  function startService(name: string, restPort: number): ChildProcess {
    const s = service(name);
    const env: Record<string, string> = { ...s.environment!, WEIR_CLUSTER_ID: clusterId, WEIR_LOG_LEVEL: 'warn' };
    const hosts: Record<string, string> = { nats: NATS_URL, redis: REDIS_URL };
    for (const key of ['WEIR_NATS_URL', 'WEIR_REDIS_URL']) {
      const local = hosts[new URL(env[key]!).hostname];
      assert.ok(local, `${key} of '${name}' names a compose service`);
      env[key] = local;
    }
    // The published port is taken on this machine: a free one instead, same flag.
    const args = s.command!.map((a, i, all) => (all[i - 1] === '--rest-port' ? String(restPort) : a));
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    processes.add(child);
    return child;
  }
  const rest = async (method: string, path: string): Promise<any> => (await fetch(new URL(path, restUrl), { method, signal: AbortSignal.timeout(10_000) })).json();
  const gone = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;

  before(async () => {
    const port = await freePort();
    restUrl = `http://127.0.0.1:${port}`;
    startService('coordinator', port);
    await waitFor('coordinator REST', async () => ((await fetch(`${restUrl}/overview`, { signal: AbortSignal.timeout(1000) })).ok ? true : undefined), 30_000, 100);
    for (let i = 0; i < (service('worker').deploy?.replicas ?? 1); i++) startService('worker', port);
    await waitFor('the workers registered', async () => ((await rest('GET', '/overview')).workers >= 2 ? true : undefined), 30_000, 100);
  });
  after(async () => {
    const live = [...processes].filter((c) => !gone(c));
    for (const c of live) c.kill('SIGTERM');
    await waitFor('processes exit', () => live.every(gone) || undefined, 10_000, 50).catch(() => live.forEach((c) => c.kill('SIGKILL')));
    await cleanupCluster(clusterId);
  });

  test('a bounded job runs to FINISHED on the compose commands', { timeout: 90_000 }, async () => {
    const r = await weir(['run', WORDCOUNT, '-p', '2', '--arg', 'source=generator', '--arg', 'words=20000', '--arg', 'output=none'], { WEIR_REST_URL: restUrl, WEIR_CLUSTER_ID: clusterId });
    assert.equal(r.code, 0, `${r.stderr}\n${output}`);
    assert.match(r.stderr, /FINISHED/);
  });

  test('a worker killed with SIGKILL is replaced by a fresh process of the same command, and the running job carries on', { timeout: 120_000 }, async () => {
    const r = await weir(['run', WORDCOUNT, '-p', '2', '--detach', '--checkpoint-interval', '1000', '--arg', 'source=generator', '--arg', 'unbounded=true', '--arg', 'rate=2000', '--arg', 'output=none'], { WEIR_REST_URL: restUrl, WEIR_CLUSTER_ID: clusterId });
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    await waitFor('RUNNING with a checkpoint', async () => {
      const v = await rest('GET', `/jobs/${id}`);
      return v.state === 'RUNNING' && (await rest('GET', `/jobs/${id}/checkpoints`)).counts.completed > 0 ? true : undefined;
    }, 60_000, 100);
    const before = (await rest('GET', '/workers')).workers as { id: string; pid: number }[];
    const victim = before[0]!;
    process.kill(victim.pid, 'SIGKILL');
    const port = Number(new URL(restUrl).port);
    await waitFor('the killed worker exited', () => [...processes].some((c) => c.pid === victim.pid && gone(c)) || undefined, 10_000, 20);
    startService('worker', port);
    await waitFor('the job counting again in a new attempt on the replacement', async () => {
      const v = await rest('GET', `/jobs/${id}`);
      return v.state === 'RUNNING' && v.attempt > 1 && v.vertices.find((x: { uid: string }) => x.uid === 'count').recordsIn > 0 ? true : undefined;
    }, 60_000, 100);
    const after = (await rest('GET', '/workers')).workers as { id: string; pid: number }[];
    assert.ok(!after.some((w) => w.id === victim.id), `the killed worker ${victim.id} is gone from GET /workers`);
    assert.equal(after.length, 2, 'a new worker (a new id: the compose command sets none) took its place');
    await rest('POST', `/jobs/${id}/cancel`);
    await waitFor('CANCELED', async () => ((await rest('GET', `/jobs/${id}`)).state === 'CANCELED' ? true : undefined), 30_000);
  });
});
