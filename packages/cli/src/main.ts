#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { z } from 'zod';
import { printCheckpoints } from './checkpoints-table.js';
import { clusterUp } from './cluster-up.js';
import { fixedPort, flag, parseRestartStrategy, port, positiveInt, readEnv, schemas } from './config.js';
import { ConfigError, formatError } from './errors.js';
import { createLogger } from './logging.js';
import { RestClient } from './rest-client.js';
// The role modules load the coordinator or the runtime: only the commands that start one import theirs.
import { serve } from './serve.js';
import { run } from './run.js';
import { registerSavepointCommands } from './savepoint-commands.js';

const program = new Command('weir').description('Weir: stateful stream processing for TypeScript').exitOverride();
program.configureOutput({ writeErr: (s) => process.stderr.write(s) });

let exitCode = 0;
const collect = (v: string, prev: string[]) => [...prev, v];

program
  .command('coordinator')
  .description('run a coordinator: job lifecycles, scheduling, REST API')
  .option('--rest-port <port>', 'REST port', '8081')
  .option('--rest-host <host>', 'REST interface to bind', '127.0.0.1')
  .option('--heartbeat-timeout <ms>', 'a worker silent this long is lost', '10000')
  .option('--slot-wait-timeout <ms>', 'how long a job waits for free slots before it fails', '30000')
  .option('--worker-gone-grace <ms>', 'a worker NATS has had no subscriber for this long (its process exited) is lost', '1000')
  .option('--orphan-savepoint-age <ms>', 'what a savepoint never completed left (a coordinator died while taking it) is deleted once untouched this long', '600000')
  .action(async (opts: { restPort: string; restHost: string; heartbeatTimeout: string; slotWaitTimeout: string; workerGoneGrace: string; orphanSavepointAge: string }) => {
    const env = readEnv();
    const log = createLogger(env.WEIR_LOG_LEVEL ?? 'info', { role: 'coordinator', cluster: env.WEIR_CLUSTER_ID });
    const restPort = flag('rest-port', port, opts.restPort);
    const heartbeatTimeoutMs = flag('heartbeat-timeout', positiveInt(3_600_000), opts.heartbeatTimeout);
    const slotWaitTimeoutMs = flag('slot-wait-timeout', positiveInt(3_600_000), opts.slotWaitTimeout);
    const workerGoneGraceMs = flag('worker-gone-grace', positiveInt(3_600_000), opts.workerGoneGrace);
    const orphanSavepointAgeMs = flag('orphan-savepoint-age', positiveInt(7 * 24 * 3_600_000), opts.orphanSavepointAge);
    await serve(async (onFatal) => (await import('./coordinator-role.js')).startCoordinator({ onFatal, natsUrl: env.WEIR_NATS_URL, redisUrl: env.WEIR_REDIS_URL, clusterId: env.WEIR_CLUSTER_ID, log, restHost: opts.restHost, restPort, heartbeatTimeoutMs, slotWaitTimeoutMs, workerGoneGraceMs, orphanSavepointAgeMs }), process.exit, env.WEIR_SUPERVISOR_PID);
  });

program
  .command('worker')
  .description('run a worker with task slots')
  .option('--slots <n>', 'task slots', '1')
  .option('--id <id>', 'worker id (default: random)')
  .action(async (opts: { slots: string; id?: string }) => {
    const env = readEnv();
    const slots = flag('slots', positiveInt(1024), opts.slots);
    const workerId = opts.id === undefined ? undefined : flag('id', schemas.token, opts.id);
    const log = createLogger(env.WEIR_LOG_LEVEL ?? 'info', { role: 'worker', cluster: env.WEIR_CLUSTER_ID, ...(workerId ? { worker: workerId } : {}) });
    await serve(async (onFatal) => (await import('./worker-role.js')).startWorker({ onFatal, natsUrl: env.WEIR_NATS_URL, redisUrl: env.WEIR_REDIS_URL, clusterId: env.WEIR_CLUSTER_ID, log, slots, ...(workerId ? { workerId } : {}) }), process.exit, env.WEIR_SUPERVISOR_PID);
  });

program
  .command('cluster')
  .description('a local multi-process cluster')
  .command('up')
  .description('start a coordinator and N worker processes; Ctrl-C stops all')
  .option('--workers <n>', 'worker processes', '2')
  .option('--slots <n>', 'slots per worker', '1')
  .option('--rest-port <port>', 'REST port', '8081')
  .option('--slot-wait-timeout <ms>', 'how long a job waits for free slots before it fails', '30000')
  .action(async (opts: { workers: string; slots: string; restPort: string; slotWaitTimeout: string }) => {
    readEnv();
    exitCode = await clusterUp({
      slotWaitTimeoutMs: flag('slot-wait-timeout', positiveInt(3_600_000), opts.slotWaitTimeout),
      workers: flag('workers', positiveInt(64), opts.workers),
      slots: flag('slots', positiveInt(1024), opts.slots),
      restPort: flag('rest-port', fixedPort, opts.restPort),
      env: process.env,
    });
  });

program
  .command('run')
  .description('run a job: on the cluster at WEIR_REST_URL, or on the embedded default when none is configured')
  .argument('<job-file>', 'a module whose default export is defineJob(...)')
  .option('-p, --parallelism <n>', 'default parallelism of operators', '1')
  .option('--arg <key=value>', 'a job argument (repeatable)', collect, [])
  .option('--detach', 'submit and return the job id (cluster only)', false)
  .option('--checkpoint-interval <ms>', "time between checkpoints; 0 turns them off (default: the job's, else 10000)")
  .addOption(new Option('--checkpoint-mode <mode>', "barrier alignment (default: the job's, else exactly-once)").choices(['exactly-once', 'at-least-once']))
  .option('--restart-strategy <spec>', "'none', 'fixed-delay:<attempts>:<delayMs>', or a JSON strategy (default: the job's, else exponential-delay)")
  .option('--from-savepoint <id>', 'start from this savepoint (state is mapped to operators by uid)')
  .option('--allow-non-restored-state', 'with --from-savepoint: drop state of operators the job no longer has', false)
  .option('--dry-run', 'with --from-savepoint: only check that the job can start from it (how state maps by uid), start nothing', false)
  .addOption(new Option('--rest-url <url>', 'coordinator REST URL').env('WEIR_REST_URL'))
  .action(async (file: string, opts: { parallelism: string; arg: string[]; detach: boolean; restUrl?: string; checkpointInterval?: string; checkpointMode?: 'exactly-once' | 'at-least-once'; restartStrategy?: string; fromSavepoint?: string; allowNonRestoredState: boolean; dryRun: boolean }) => {
    const env = readEnv();
    const restUrl = opts.restUrl ? flag('rest-url', schemas.restUrl, opts.restUrl) : undefined; // empty = unset
    const log = createLogger(env.WEIR_LOG_LEVEL ?? 'warn', { role: 'client' });
    const checkpoints = {
      ...(opts.checkpointInterval !== undefined ? { intervalMs: flag('checkpoint-interval', z.coerce.number().int('must be a whole number of ms').min(0, 'must be 0 (off) or more'), opts.checkpointInterval) } : {}),
      ...(opts.checkpointMode ? { mode: opts.checkpointMode } : {}),
    };
    const restartStrategy = opts.restartStrategy === undefined ? undefined : parseRestartStrategy(opts.restartStrategy);
    if (opts.allowNonRestoredState && !opts.fromSavepoint) throw new ConfigError('--allow-non-restored-state needs --from-savepoint <id>');
    if (opts.dryRun && !opts.fromSavepoint) throw new ConfigError('--dry-run needs --from-savepoint <id>');
    const fromSavepoint = opts.fromSavepoint === undefined ? undefined : flag('from-savepoint', z.string().regex(/^sp-[0-9a-f]{16}$/, "must be a savepoint id like sp-0123456789abcdef (see 'weir savepoints')"), opts.fromSavepoint);
    exitCode = await run({ file, parallelism: flag('parallelism', positiveInt(), opts.parallelism), args: opts.arg, detach: opts.detach, restUrl, natsUrl: env.WEIR_NATS_URL, checkpointDir: env.WEIR_CHECKPOINT_DIR, checkpoints, ...(restartStrategy ? { restartStrategy } : {}), ...(fromSavepoint ? { fromSavepoint, allowNonRestoredState: opts.allowNonRestoredState, dryRun: opts.dryRun } : {}), log });
  });

const restOption = () => new Option('--rest-url <url>', 'coordinator REST URL').env('WEIR_REST_URL').default('http://127.0.0.1:8081');

program
  .command('list')
  .description('list jobs')
  .addOption(restOption())
  .action(async (opts: { restUrl: string }) => {
    const rest = new RestClient(flag('rest-url', schemas.restUrl, opts.restUrl));
    const { jobs } = await rest.request<{ jobs: { id: string; name: string; state: string; attempt: number; startTime: number | null; duration: number }[] }>('GET', '/jobs');
    if (jobs.length === 0) return void process.stdout.write('no jobs\n');
    const rows = [['JOB ID', 'NAME', 'STATE', 'ATTEMPT', 'STARTED', 'DURATION'], ...jobs.map((j) => [j.id, j.name, j.state, String(j.attempt), j.startTime ? new Date(j.startTime).toISOString() : '-', `${(j.duration / 1000).toFixed(1)}s`])];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) process.stdout.write(r.map((c, i) => c.padEnd(widths[i]!)).join('  ') + '\n');
  });

program
  .command('cancel')
  .description('cancel a job')
  .argument('<job-id>')
  .addOption(restOption())
  .action(async (jobId: string, opts: { restUrl: string }) => {
    const rest = new RestClient(flag('rest-url', schemas.restUrl, opts.restUrl));
    const r = await rest.request<{ jobId: string; state: string }>('POST', `/jobs/${encodeURIComponent(jobId)}/cancel`);
    process.stdout.write(`job ${r.jobId} is ${r.state}\n`);
  });

program
  .command('checkpoints')
  .description("a job's checkpoints: counts, latest, history, and its failures")
  .argument('<job-id>')
  .addOption(restOption())
  .action(async (jobId: string, opts: { restUrl: string }) => {
    await printCheckpoints(new RestClient(flag('rest-url', schemas.restUrl, opts.restUrl)), jobId);
  });

registerSavepointCommands(program, restOption);

try {
  await program.parseAsync(process.argv);
  process.exitCode = exitCode;
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else {
    process.stderr.write(`weir: ${formatError(e)}\n`);
    process.exitCode = 2;
  }
}
