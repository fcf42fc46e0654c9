/**
 * `weir savepoint`, `weir stop`, `weir savepoints`, `weir rescale` and `weir inspect`: thin clients
 * of the coordinator's REST API that wait for asynchronous operations to end.
 */
import { readFile } from 'node:fs/promises';
import type { SavepointInspection } from '@weir/runtime';
import { WeirError } from '@weir/sdk';
import { Option, type Command } from 'commander';
import { flag, positiveInt, schemas } from './config.js';
import { RestClient } from './rest-client.js';

interface Operation {
  requestId: string;
  status: 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
  result: { savepoint?: SavepointSummary | null; state?: string; parallelism?: { from: number; to: number } } | null;
  error: { code: string; message: string } | null;
}
interface SavepointSummary {
  id: string;
  location: string;
  jobName: string;
  jobVersion: string;
  jobId: string;
  checkpointId: number;
  reason: string;
  createdAt: number;
  sizeBytes: number;
  ageMs?: number;
}

const out = (line: string): void => void process.stdout.write(`${line}\n`);
const say = (line: string) => process.stderr.write(`weir: ${line}\n`);

/** Poll an operation until it ends (bounded); a failed one becomes its typed error. */
/** Each GET waits at most this long, well under the REST client's request timeout. */
const LONG_POLL_MS = 10_000;

async function await_(rest: RestClient, path: string, timeoutMs: number): Promise<Operation> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Long polls: the coordinator answers as soon as the operation ends.
    const waitMs = Math.max(0, Math.min(LONG_POLL_MS, deadline - Date.now()));
    const op = await rest.request<Operation>('GET', `${path}?waitMs=${waitMs}`);
    if (op.status === 'COMPLETED') return op;
    if (op.status === 'FAILED') throw new WeirError(op.error?.code ?? 'WEIR_INTERNAL', op.error?.message ?? 'the operation failed');
    if (Date.now() >= deadline) throw new WeirError('WEIR_OPERATION_TIMEOUT', `the operation is still running after ${timeoutMs} ms; poll GET ${path}`);
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

function formatAge(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

function table(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) out(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}

const waitOption = () => new Option('--timeout <ms>', 'how long to wait for the operation').default('600000');

export function registerSavepointCommands(program: Command, restOption: () => Option): void {
  const client = (opts: { restUrl: string }) => new RestClient(flag('rest-url', schemas.restUrl, opts.restUrl));
  const timeout = (opts: { timeout: string }) => flag('timeout', positiveInt(86_400_000), opts.timeout);

  const savepoint = program
    .command('savepoint')
    .description('take a savepoint of a running job (or: savepoint dispose|export|import)')
    .argument('<job-id>')
    .addOption(restOption())
    .addOption(waitOption())
    .action(async (jobId: string, opts: { restUrl: string; timeout: string }) => {
      const rest = client(opts);
      const { requestId } = await rest.request<{ requestId: string }>('POST', `/jobs/${encodeURIComponent(jobId)}/savepoints`);
      say(`savepoint of job ${jobId} requested (${requestId})`);
      const op = await await_(rest, `/jobs/${jobId}/savepoints/${requestId}`, timeout(opts));
      const sp = op.result!.savepoint!;
      out(sp.id);
      say(`savepoint ${sp.id} of ${sp.jobName}@${sp.jobVersion}: ${formatBytes(sp.sizeBytes)} at ${sp.location}`);
    });
  savepoint
    .command('dispose')
    .description('delete a savepoint')
    .argument('<savepoint-id>')
    .addOption(restOption())
    .addOption(waitOption())
    .action(async (id: string, opts: { restUrl: string; timeout: string }) => {
      const rest = client(opts);
      const { requestId } = await rest.request<{ requestId: string }>('DELETE', `/savepoints/${encodeURIComponent(id)}`);
      await await_(rest, `/savepoints/disposal/${requestId}`, timeout(opts));
      say(`savepoint ${id} disposed`);
    });
  savepoint
    .command('export')
    .description('write a savepoint to one portable file')
    .argument('<savepoint-id>')
    .argument('<file>')
    .addOption(restOption())
    .action(async (id: string, file: string, opts: { restUrl: string }) => {
      const bytes = await client(opts).download(`/savepoints/${encodeURIComponent(id)}/export`, file);
      say(`savepoint ${id} exported to ${file} (${formatBytes(bytes)})`);
    });
  savepoint
    .command('import')
    .description('load an exported savepoint into this cluster')
    .argument('<file>')
    .addOption(restOption())
    .action(async (file: string, opts: { restUrl: string }) => {
      // Streamed from disk with no overall time limit: an export file may be gigabytes.
      const sp = await client(opts).upload<SavepointSummary>('/savepoints/import', file);
      out(sp.id);
      say(`imported savepoint ${sp.id} of ${sp.jobName}@${sp.jobVersion} (${formatBytes(sp.sizeBytes)}); resume with: weir run <job-file> --from-savepoint ${sp.id}`);
    });

  program
    .command('stop')
    .description('stop a job gracefully: sources stop, the last state is snapshotted and sinks commit; the job ends FINISHED')
    .argument('<job-id>')
    .option('--savepoint', 'keep the final snapshot as a savepoint', false)
    .option('--drain', 'end the input first: timers fire and operators emit what is left before the snapshot', false)
    .addOption(restOption())
    .addOption(waitOption())
    .action(async (jobId: string, opts: { savepoint: boolean; drain: boolean; restUrl: string; timeout: string }) => {
      const rest = client(opts);
      const { requestId } = await rest.request<{ requestId: string }>('POST', `/jobs/${encodeURIComponent(jobId)}/stop`, { savepoint: opts.savepoint, drain: opts.drain });
      const op = await await_(rest, `/jobs/${jobId}/savepoints/${requestId}`, timeout(opts));
      const sp = op.result?.savepoint;
      if (sp) out(sp.id);
      say(`job ${jobId} is ${op.result?.state ?? 'stopped'}${sp ? `; savepoint ${sp.id} (${formatBytes(sp.sizeBytes)}) at ${sp.location}` : ''}`);
    });

  program
    .command('rescale')
    .description("change a running job's parallelism (stop with a savepoint and resume from it, in one operation)")
    .argument('<job-id>')
    .argument('<parallelism>')
    .addOption(restOption())
    .addOption(waitOption())
    .action(async (jobId: string, p: string, opts: { restUrl: string; timeout: string }) => {
      const rest = client(opts);
      const parallelism = flag('parallelism', positiveInt(32768), p);
      const { requestId } = await rest.request<{ requestId: string }>('POST', `/jobs/${encodeURIComponent(jobId)}/rescaling`, { parallelism });
      const op = await await_(rest, `/jobs/${jobId}/rescaling/${requestId}`, timeout(opts));
      say(`job ${jobId} runs at parallelism ${op.result!.parallelism!.to} (was ${op.result!.parallelism!.from}), restored from savepoint ${op.result!.savepoint!.id}`);
    });

  program
    .command('savepoints')
    .description('list savepoints, newest first')
    .option('--job <name>', 'only those of this job name')
    .option('--json', 'print JSON', false)
    .addOption(restOption())
    .action(async (opts: { job?: string; json: boolean; restUrl: string }) => {
      const q = opts.job ? `?job=${encodeURIComponent(opts.job)}` : '';
      const { savepoints } = await client(opts).request<{ savepoints: SavepointSummary[] }>('GET', `/savepoints${q}`);
      if (opts.json) return out(JSON.stringify(savepoints, null, 2));
      if (savepoints.length === 0) return out('no savepoints');
      table([
        ['SAVEPOINT', 'JOB', 'VERSION', 'REASON', 'AGE', 'SIZE', 'FROM JOB ID', 'CREATED'],
        ...savepoints.map((s) => [s.id, s.jobName, s.jobVersion, s.reason, formatAge(s.ageMs ?? 0), formatBytes(s.sizeBytes), s.jobId, new Date(s.createdAt).toISOString()]),
      ]);
    });

  program
    .command('inspect')
    .description("show a savepoint's operators, key groups and sizes, and sample keys/values of an operator's state")
    .argument('<savepoint>', 'a savepoint id (from the cluster) or an export file')
    .option('--operator <uid>', 'sample the state of this operator')
    .option('--state <name>', 'only this state of each sampled key')
    .option('--limit <n>', 'sample size', '10')
    .option('--count', "read every key group of the operator to count all its keys (otherwise reading stops once the sample is full)", false)
    .option('--json', 'print JSON', false)
    .addOption(restOption())
    .action(async (target: string, opts: { operator?: string; state?: string; limit: string; count: boolean; json: boolean; restUrl: string }) => {
      const inspectOpts = { ...(opts.operator ? { operator: opts.operator } : {}), ...(opts.state ? { state: opts.state } : {}), limit: flag('limit', positiveInt(100_000), opts.limit), ...(opts.count ? { count: true } : {}) };
      let result: SavepointInspection;
      if (/^sp-[0-9a-f]{16}$/.test(target)) {
        // In a cluster: the coordinator reads only the blobs of the operator asked for.
        const q = new URLSearchParams(Object.entries(inspectOpts).map(([k, v]): [string, string] => [k, String(v)]));
        result = await client(opts).request<SavepointInspection>('GET', `/savepoints/${target}/inspect?${q}`);
      } else {
        const { decodeExport, inspectSavepoint } = await import('@weir/runtime');
        const { metadata, blobs } = decodeExport(await readFileOrFail(target));
        const byName = new Map(blobs.map((b) => [b.name, b.bytes]));
        result = await inspectSavepoint(metadata, async (names) => names.map((n) => byName.get(n)!), inspectOpts);
      }
      if (opts.json) return out(JSON.stringify(result, null, 2));
      printInspection(result);
    });
}

async function readFileOrFail(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (e) {
    throw new WeirError('WEIR_FILE_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`);
  }
}

function printInspection(r: SavepointInspection): void {
  const s = r.savepoint;
  out(`savepoint ${s.id}: job ${s.jobName}@${s.jobVersion} (job id ${s.jobId}), checkpoint ${s.checkpointId}, ${s.reason}, ${new Date(s.createdAt).toISOString()}, ${formatBytes(s.sizeBytes)}, format ${s.formatVersion}${s.compactedAt ? `, compacted ${new Date(s.compactedAt).toISOString()}` : ''}`);
  table([
    ['OPERATOR', 'KIND', 'PARALLELISM', 'MAX', 'KEY GROUPS', 'OP STATES', 'SIZE', 'STATE'],
    ...r.operators.map((o) => [o.uid, `${o.keyed ? 'keyed ' : ''}${o.kind}`, String(o.parallelism), String(o.maxParallelism), String(o.keyGroups), String(o.operatorStates), formatBytes(o.bytes), Object.entries(o.state).map(([k, v]) => `${k}:${v}`).join(',') || '-']),
  ]);
  if (!r.sample) return;
  const groups = r.operators.find((o) => o.uid === r.sample!.operator)?.keyGroups ?? 0;
  // Reading stopped once the sample was full: the keys are those of the key groups read.
  const counted = r.sample.keyGroupsRead < groups ? ` in the first ${r.sample.keyGroupsRead} of ${groups} key groups (--count for all)` : '';
  out(`\n${r.sample.operator}: ${r.sample.keys} keys${counted}; sample:`);
  for (const e of r.sample.entries) {
    const where = e.keyGroup !== undefined ? `group ${e.keyGroup}` : `subtask ${e.subtask}`;
    out(`  ${where}  ${e.key !== undefined ? `${JSON.stringify(e.key)} => ` : ''}${JSON.stringify(e.value)}`);
  }
}
