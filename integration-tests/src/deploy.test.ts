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
import { dirname, join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JOB_CACHE_DIR, readEnv } from '@weir/cli';
import { parse, parseAllDocuments } from 'yaml';
import { cleanupCluster, CLI, freePort, NATS_URL, REDIS_URL, ROOT, uniqueId, waitFor, weir, WORDCOUNT } from './harness.js';

interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  restart?: string;
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
/** The one container of a k8s Deployment or StatefulSet. */
const container = (kind: 'Deployment' | 'StatefulSet', name: string) => {
  const d = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  assert.ok(d, `deploy/kubernetes/weir.yaml has a ${kind} '${name}'`);
  return d.spec.template.spec.containers[0] as { image: string; args: string[]; envFrom: { configMapRef: { name: string } }[]; ports: { name: string; containerPort: number }[] };
};
/** A k8s Service's port by name. */
const servicePort = (name: string): number | undefined => manifests.find((m) => m.kind === 'Service' && m.metadata.name === name)?.spec.ports[0].port;

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
    // The only place a worker writes in the install: the `node` user must own it.
    assert.match(runtime, new RegExp(`^RUN mkdir -p ${relative(ROOT, dirname(JOB_CACHE_DIR))} && chown node:node ${relative(ROOT, dirname(JOB_CACHE_DIR))}$`, 'm'));
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
      // Values the CLI accepts, and no variable it does not read (a misspelt one would be ignored).
      const parsed = readEnv(s.environment!);
      for (const key of Object.keys(s.environment!)) assert.ok(key in parsed, `${key} is a variable weir reads`);
      assert.equal(new URL(s.environment!.WEIR_NATS_URL!).hostname, 'nats');
      assert.equal(new URL(s.environment!.WEIR_REDIS_URL!).hostname, 'redis');
      assert.ok(s.environment!.WEIR_CLUSTER_ID);
      assert.ok(s.restart !== undefined && s.restart !== 'no', 'a process that exits is started again');
    }
    assert.ok(compose.services.nats && compose.services.redis);
    assert.ok((worker.deploy?.replicas ?? 1) >= 2, 'two workers, so a job at parallelism 2 runs on two processes');
  });

  test('Kubernetes: the same commands, images and environment as compose, with hosts and ports that are Services of the manifest', () => {
    for (const [role, deployment] of [['coordinator', 'weir-coordinator'], ['worker', 'weir-worker']] as const) {
      const c = container('Deployment', deployment);
      assert.deepEqual(c.args, service(role).command, `${deployment}'s args are the compose ${role}'s command`);
      assert.equal(c.image, service(role).image);
      const config = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === c.envFrom[0]!.configMapRef.name);
      assert.ok(config?.data, `the ConfigMap ${deployment} takes its environment from`);
      const composeEnv = service(role).environment!;
      assert.deepEqual(Object.keys(config.data).sort(), Object.keys(composeEnv).sort());
      for (const [key, value] of Object.entries(config.data)) {
        if (key !== 'WEIR_NATS_URL' && key !== 'WEIR_REDIS_URL') {
          assert.equal(value, composeEnv[key], `${key} is the same as in compose`);
          continue;
        }
        // Another host (the Service), the same scheme and port, and the Service listens on that port.
        const [k8s, local] = [new URL(value), new URL(composeEnv[key]!)];
        assert.deepEqual([k8s.protocol, k8s.port], [local.protocol, local.port], key);
        assert.equal(String(servicePort(k8s.hostname)), k8s.port, `${key}: the Service '${k8s.hostname}' of the manifest listens on ${k8s.port}`);
      }
    }
    const port = flagValue(service('coordinator').command!, '--rest-port');
    assert.equal(String(servicePort('weir-coordinator')), port);
    assert.equal(String(container('Deployment', 'weir-coordinator').ports[0]!.containerPort), port);
    // NATS and Redis run with the same flags (JetStream on a volume; an append-only file, no eviction).
    for (const [name, set] of [['nats', 'weir-nats'], ['redis', 'weir-redis']] as const) {
      assert.deepEqual(container('StatefulSet', set).args, service(name).command, `${set} runs with the compose ${name}'s flags`);
      assert.equal(container('StatefulSet', set).image, service(name).image);
    }
  });
});

describe('the compose topology as OS processes (real NATS and Redis)', { timeout: 420_000 }, () => {
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
    await waitFor('processes exit', () => live.every(gone) || undefined, 10_000, 50).catch(async () => {
      live.forEach((c) => c.kill('SIGKILL'));
      await waitFor('processes killed', () => live.every(gone) || undefined, 10_000, 50);
    });
    await cleanupCluster(clusterId);
  });

  test('a bounded job runs to FINISHED on the compose commands', { timeout: 150_000 }, async () => {
    const r = await weir(['run', WORDCOUNT, '-p', '2', '--arg', 'source=generator', '--arg', 'words=20000', '--arg', 'output=none'], { WEIR_REST_URL: restUrl, WEIR_CLUSTER_ID: clusterId });
    assert.equal(r.code, 0, `${r.stderr}\n${output}`);
    assert.match(r.stderr, /FINISHED/);
  });

  test('a worker killed with SIGKILL is replaced by a fresh process of the same command, and the running job carries on', { timeout: 200_000 }, async () => {
    const r = await weir(['run', WORDCOUNT, '-p', '2', '--detach', '--checkpoint-interval', '1000', '--arg', 'source=generator', '--arg', 'unbounded=true', '--arg', 'rate=2000', '--arg', 'output=none'], { WEIR_REST_URL: restUrl, WEIR_CLUSTER_ID: clusterId });
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    await waitFor('RUNNING with a checkpoint', async () => {
      const v = await rest('GET', `/jobs/${id}`);
      return v.state === 'RUNNING' && (await rest('GET', `/jobs/${id}/checkpoints`)).counts.completed > 0 ? true : undefined;
    }, 60_000, 100);
    const before = (await rest('GET', '/workers')).workers as { id: string; pid: number }[];
    const victim = before[0]!;
    const child = [...processes].find((c) => c.pid === victim.pid);
    assert.ok(child, `worker ${victim.id} (pid ${victim.pid}) is one this test started`);
    child.kill('SIGKILL');
    const port = Number(new URL(restUrl).port);
    await waitFor('the killed worker exited', () => gone(child) || undefined, 10_000, 20);
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
