import { buildJob, parseArgPairs, WeirError, type CheckpointConfig, type JobGraphDescription, type RestartStrategyConfig } from '@weir/sdk';
import type { Logger } from 'pino';
import { JOB_CACHE_DIR } from './cache-dir.js';
import { RestClient } from './rest-client.js';
import type { Coordinator } from '@weir/coordinator';

export interface RunOptions {
  readonly file: string;
  readonly parallelism: number;
  readonly args: readonly string[];
  readonly detach: boolean;
  readonly restUrl: string | undefined;
  readonly natsUrl: string;
  /** Embedded default: where checkpoints are written. */
  readonly checkpointDir: string;
  /** Overrides of the job's checkpoint configuration (flags). */
  readonly checkpoints: Partial<CheckpointConfig>;
  /** Replaces the job's restart strategy (flag). */
  readonly restartStrategy?: RestartStrategyConfig;
  /** Start from this savepoint. */
  readonly fromSavepoint?: string;
  readonly allowNonRestoredState?: boolean;
  /** Only check the job against the savepoint. */
  readonly dryRun?: boolean;
  readonly log: Logger;
}

interface JobView {
  id: string;
  name: string;
  state: string;
  duration: number;
  failure: { code: string; message: string; task?: string; subtask?: number; workerId?: string } | null;
  restarts: number;
  restartStrategyExhausted: string | null;
  vertices: { uid: string; recordsIn: number; recordsOut: number }[];
}

const TERMINAL = new Set(['FINISHED', 'CANCELED', 'FAILED']);
const say = (line: string) => process.stderr.write(`weir: ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Bundle, validate locally (so a bad job fails before it reaches a cluster), then run. */
export async function run(o: RunOptions): Promise<number> {
  const args = parseArgPairs(o.args);
  const { bundleJob } = await import('./bundle.js'); // esbuild: only `weir run` needs it
  const bundle = await bundleJob(o.file);
  const { importJobBundle } = await import('@weir/runtime');
  const def = await importJobBundle(bundle, JOB_CACHE_DIR, undefined, `job file ${o.file}`);
  const { description } = buildJob(def, { args, parallelism: o.parallelism, source: `job file ${o.file}` });
  if (o.dryRun && o.fromSavepoint) return dryRun(o, description);
  return o.restUrl ? runOnCluster(o, bundle, description, args) : runEmbedded(o, bundle, description, args);
}

/** How the job's operators would take the savepoint's state; refusals are the typed errors a run would give. */
async function dryRun(o: RunOptions, description: JobGraphDescription): Promise<number> {
  const body = { description, allowNonRestoredState: o.allowNonRestoredState === true };
  let m: { savepoint: { id: string; jobName: string; jobVersion: string }; restored: readonly string[]; rescaled: readonly string[]; fresh: readonly string[]; notRestored: readonly string[] };
  if (o.restUrl) {
    m = await new RestClient(o.restUrl).request('POST', `/savepoints/${o.fromSavepoint}/check`, body);
  } else {
    const { startEmbedded } = await import('./embedded.js');
    const cluster = await startEmbedded(o.log, 1, o.natsUrl, o.checkpointDir);
    try {
      m = await cluster.coordinator.savepoints.check(o.fromSavepoint!, description, body.allowNonRestoredState);
    } finally {
      await cluster.stop();
    }
  }
  const list = (uids: readonly string[]) => (uids.length > 0 ? uids.join(', ') : '-');
  process.stdout.write(
    [
      `${description.name}@${description.version} can start from savepoint ${m.savepoint.id} (${m.savepoint.jobName}@${m.savepoint.jobVersion})`,
      `  restored:     ${list(m.restored)}`,
      `  rescaled:     ${list(m.rescaled)}`,
      `  start empty:  ${list(m.fresh)}`,
      `  dropped:      ${list(m.notRestored)}`,
      '',
    ].join('\n'),
  );
  return 0;
}

async function runOnCluster(o: RunOptions, bundle: Uint8Array, description: JobGraphDescription, args: Record<string, string>): Promise<number> {
  const rest = new RestClient(o.restUrl!);
  const { artifact } = await rest.request<{ artifact: string }>('POST', '/artifacts', bundle, 'application/octet-stream');
  const { jobId } = await rest.request<{ jobId: string }>('POST', '/jobs', { artifact, description, args, parallelism: o.parallelism, checkpoints: o.checkpoints, ...(o.restartStrategy ? { restartStrategy: o.restartStrategy } : {}), ...savepointOf(o) });
  if (o.detach) {
    process.stdout.write(`${jobId}\n`);
    say(`submitted ${description.name} as job ${jobId} (detached); follow it with 'weir list', stop it with 'weir cancel ${jobId}'`);
    return 0;
  }
  say(`submitted ${description.name} as job ${jobId}; waiting for it to end (Ctrl-C detaches, the job keeps running)`);
  let detached = false;
  const onSigint = () => {
    detached = true;
  };
  process.once('SIGINT', onSigint);
  let last = '';
  try {
    for (;;) {
      if (detached) {
        say(`detached from job ${jobId}; it keeps running: 'weir cancel ${jobId}' stops it`);
        return 0;
      }
      const view = await rest.request<JobView>('GET', `/jobs/${jobId}`);
      if (view.state !== last) say(`job ${jobId} is ${(last = view.state)}`);
      if (TERMINAL.has(view.state)) return report(view);
      await sleep(250);
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}

async function runEmbedded(o: RunOptions, bundle: Uint8Array, description: JobGraphDescription, args: Record<string, string>): Promise<number> {
  say(`no cluster configured (WEIR_REST_URL unset): running '${description.name}' on the embedded default, in this process`);
  const [{ planExecution }, { startEmbedded }] = await Promise.all([import('@weir/runtime'), import('./embedded.js')]);
  const slots = Math.max(...planExecution(description).tasks.map((t) => t.parallelism));
  const cluster = await startEmbedded(o.log, slots, o.natsUrl, o.checkpointDir);
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
  };
  process.on('SIGINT', onSigint);
  let stopping: Promise<void> | undefined;
  try {
    const artifact = await cluster.coordinator.putArtifact(bundle);
    const job = await cluster.coordinator.submit({ artifact, description, args, parallelism: o.parallelism, checkpoints: o.checkpoints, ...(o.restartStrategy ? { restartStrategy: o.restartStrategy } : {}), ...savepointOf(o) });
    for (;;) {
      const view = cluster.coordinator.view(job.id) as unknown as JobView;
      if (TERMINAL.has(view.state)) {
        await stopping;
        return report(view);
      }
      if (interrupts === 1 && !stopping) {
        // The first Ctrl-C keeps the state: stop with a savepoint (a second one cancels).
        say('interrupted: stopping with a savepoint (Ctrl-C again cancels)');
        try {
          const op = cluster.coordinator.control.stop(job.id, { savepoint: true, drain: false });
          stopping = waitForOperation(cluster.coordinator, op.requestId).then(
            (sp) => void (sp && say(`savepoint ${sp}; resume with: weir run ${o.file} --from-savepoint ${sp}`)),
            (e: Error) => void say(`no savepoint: ${e.message}`),
          );
        } catch (e) {
          say(`no savepoint (${(e as Error).message}): canceling`);
          interrupts = 2;
        }
      }
      if (interrupts >= 2 && view.state !== 'CANCELING') {
        interrupts = -Infinity;
        say('canceling the job');
        await cluster.coordinator.cancel(job.id).catch(() => undefined);
      }
      await sleep(50);
    }
  } finally {
    process.off('SIGINT', onSigint);
    await cluster.stop();
  }
}

/** The savepoint id a stop produced, once the operation ends. */
async function waitForOperation(coordinator: Coordinator, requestId: string): Promise<string | undefined> {
  for (;;) {
    const op = await coordinator.operations.wait(requestId, 'stop', undefined, 60_000);
    if (op.status === 'FAILED') throw new Error(op.error?.message ?? 'the stop failed');
    if (op.status === 'COMPLETED') return (op.result as { savepoint?: { id: string } | null }).savepoint?.id;
  }
}

function savepointOf(o: RunOptions): { fromSavepoint?: string; allowNonRestoredState?: boolean } {
  return o.fromSavepoint ? { fromSavepoint: o.fromSavepoint, allowNonRestoredState: o.allowNonRestoredState === true } : {};
}

function report(view: JobView): number {
  const records = view.vertices.map((v) => `${v.uid} ${v.recordsIn}/${v.recordsOut}`).join(', ');
  if (view.state === 'FINISHED') {
    const restarts = view.restarts > 0 ? ` after ${view.restarts} restart(s) from checkpoints` : '';
    // Short jobs in ms: "0.00 s" reads as if the clock had not run.
    const took = view.duration < 1000 ? `${Math.round(view.duration)} ms` : `${(view.duration / 1000).toFixed(2)} s`;
    say(`job ${view.name} FINISHED in ${took}${restarts} (records in/out: ${records})`);
    return 0;
  }
  if (view.state === 'FAILED' && view.failure) {
    const f = view.failure;
    const where = f.task ? ` in ${f.task}#${f.subtask}${f.workerId ? ` on worker ${f.workerId}` : ''}` : '';
    say(`job ${view.name} FAILED${where}: ${f.code}: ${f.message}`);
    if (view.restartStrategyExhausted) say(`not restarted after ${view.restarts} restart(s): ${view.restartStrategyExhausted}`);
    return 1;
  }
  say(`job ${view.name} ${view.state}`);
  return view.state === 'CANCELED' ? 0 : 1;
}

export { WeirError };
