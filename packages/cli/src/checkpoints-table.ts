import type { RestClient } from './rest-client.js';

interface Entry {
  id: number;
  status: string;
  triggerTimestamp: number;
  endToEndDurationMs: number;
  syncMs: number;
  asyncMs: number;
  alignmentMs: number;
  /** 0 from older coordinators (not in their answer). */
  startDelayMs?: number;
  stateBytes: number;
  checkpointedBytes: number;
  numAcknowledged: number;
  numSubtasks: number;
  failureReason?: string;
  failureMessage?: string;
}
interface Stats {
  counts: { triggered: number; inProgress: number; completed: number; failed: number; restored: number };
  latest: { completed: Entry | null; failed: Entry | null; restored: { id: number; time: number } | null };
  history: Entry[];
}
interface Exceptions {
  rootException: { code: string; message: string; time: number; task?: string; subtask?: number; workerId?: string } | null;
  restarts: number;
  restartStrategyExhausted: string | null;
  history: { code: string; message: string; time: number; attempt?: number; task?: string; subtask?: number; workerId?: string }[];
}

const out = (line = '') => process.stdout.write(`${line}\n`);
const time = (t: number) => new Date(t).toISOString().slice(11, 23);
const ms = (n: number) => `${Math.round(n)} ms`;

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function table(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) out(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}

/** `weir checkpoints <job-id>`: what GET /jobs/:id/checkpoints and /exceptions say, as tables. */
export async function printCheckpoints(rest: RestClient, jobId: string): Promise<void> {
  const id = encodeURIComponent(jobId);
  const [stats, exceptions] = await Promise.all([rest.request<Stats>('GET', `/jobs/${id}/checkpoints`), rest.request<Exceptions>('GET', `/jobs/${id}/exceptions`)]);
  const c = stats.counts;
  out(`checkpoints: triggered ${c.triggered}, in progress ${c.inProgress}, completed ${c.completed}, failed ${c.failed}, restored ${c.restored}`);
  if (stats.latest.completed) out(`latest completed: #${stats.latest.completed.id} at ${time(stats.latest.completed.triggerTimestamp)}, ${ms(stats.latest.completed.endToEndDurationMs)}, ${bytes(stats.latest.completed.checkpointedBytes)} written of ${bytes(stats.latest.completed.stateBytes)}`);
  if (stats.latest.failed) out(`latest failed: #${stats.latest.failed.id} ${stats.latest.failed.failureReason ?? ''} ${stats.latest.failed.failureMessage ?? ''}`.trimEnd());
  if (stats.latest.restored) out(`latest restore: from #${stats.latest.restored.id} at ${time(stats.latest.restored.time)}`);
  if (stats.history.length > 0) {
    out();
    table([
      ['ID', 'STATUS', 'TRIGGERED', 'DURATION', 'START DELAY', 'SYNC', 'ASYNC', 'ALIGNMENT', 'STATE', 'WRITTEN', 'ACKS', 'FAILURE'],
      ...stats.history.map((e) => [
        String(e.id),
        e.status,
        time(e.triggerTimestamp),
        ms(e.endToEndDurationMs),
        ms(e.startDelayMs ?? 0),
        ms(e.syncMs),
        ms(e.asyncMs),
        ms(e.alignmentMs),
        bytes(e.stateBytes),
        bytes(e.checkpointedBytes),
        `${e.numAcknowledged}/${e.numSubtasks}`,
        e.failureReason ?? '',
      ]),
    ]);
  }
  out();
  out(`restarts: ${exceptions.restarts}${exceptions.restartStrategyExhausted ? ` (not restarted: ${exceptions.restartStrategyExhausted})` : ''}`);
  const root = exceptions.rootException;
  if (root) out(`root cause: ${root.code}: ${root.message}${root.task ? ` (${root.task}#${root.subtask})` : ''}${root.workerId ? ` on worker ${root.workerId}` : ''}`);
  if (exceptions.history.length > 0) {
    out();
    table([['TIME', 'ATTEMPT', 'CODE', 'WHERE', 'MESSAGE'], ...exceptions.history.map((e) => [time(e.time), String(e.attempt ?? ''), e.code, `${e.task ? `${e.task}#${e.subtask}` : ''}${e.workerId ? ` @${e.workerId}` : ''}`, e.message.slice(0, 120)])]);
  }
}
