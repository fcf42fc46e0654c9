/**
 * Asynchronous operations with ids (Flink's triggerId): savepoints, stops, rescales and disposals
 * start at once and are polled for their outcome. Kept in memory, the most recent ones only.
 */
import { randomBytes } from 'node:crypto';
import { WeirError } from '@weir/sdk';

export type OperationKind = 'savepoint' | 'stop' | 'rescale' | 'dispose';
export type OperationStatus = 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';

export interface OperationView {
  readonly requestId: string;
  readonly kind: OperationKind;
  readonly jobId: string | null;
  readonly status: OperationStatus;
  readonly startedAt: number;
  readonly endedAt: number | null;
  /** What the operation produced (savepoint metadata summary, new parallelism, ...). */
  readonly result: unknown;
  readonly error: { readonly code: string; readonly message: string } | null;
}

/** Operations kept for polling; older finished ones are dropped first. */
const KEPT = 500;
/** The longest a GET may wait for an operation to end (long polling). */
export const MAX_OPERATION_WAIT_MS = 60_000;

type MutableOperation = { -readonly [K in keyof OperationView]: OperationView[K] };

export class Operations {
  private readonly ops = new Map<string, MutableOperation>();
  /** Settles (never rejects) when the operation ends: what long polls wait on. */
  private readonly ended = new Map<string, Promise<void>>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Start `work` now; its outcome is kept under the returned request id. */
  start(kind: OperationKind, jobId: string | null, work: () => Promise<unknown>): OperationView {
    const requestId = randomBytes(8).toString('hex');
    const op = { requestId, kind, jobId, status: 'IN_PROGRESS' as OperationStatus, startedAt: this.now(), endedAt: null as number | null, result: null as unknown, error: null as OperationView['error'] };
    this.ops.set(requestId, op);
    this.trim();
    const ended = work().then(
      (result) => void Object.assign(op, { status: 'COMPLETED', endedAt: this.now(), result: result ?? null }),
      (e: unknown) => {
        const err = e as { code?: unknown; message?: unknown };
        const code = typeof err.code === 'string' && err.code.startsWith('WEIR_') ? err.code : 'WEIR_INTERNAL';
        Object.assign(op, { status: 'FAILED', endedAt: this.now(), error: { code, message: String(err.message ?? e) } });
      },
    );
    this.ended.set(requestId, ended);
    void ended.finally(() => this.ended.delete(requestId));
    return { ...op };
  }

  /** The operation `requestId` of `kind` (and of `jobId` if given). */
  get(requestId: string, kind: OperationKind | readonly OperationKind[], jobId?: string): OperationView {
    const op = this.ops.get(requestId);
    const kinds = typeof kind === 'string' ? [kind] : kind;
    if (!op || !kinds.includes(op.kind) || (jobId !== undefined && op.jobId !== jobId)) {
      throw new WeirError('WEIR_OPERATION_NOT_FOUND', `no ${kinds.join(' or ')} request '${requestId}'${jobId ? ` for job ${jobId}` : ''}; request ids are those the POST returned (kept for the last ${KEPT} operations)`);
    }
    return { ...op };
  }

  /**
   * As `get`, but an operation still in progress is waited for, up to `waitMs` (long polling: the
   * caller learns of the end at once instead of at its next poll). Unknown ids fail at once.
   */
  async wait(requestId: string, kind: OperationKind | readonly OperationKind[], jobId: string | undefined, waitMs: number): Promise<OperationView> {
    const view = this.get(requestId, kind, jobId);
    const ended = this.ended.get(requestId);
    if (view.status !== 'IN_PROGRESS' || ended === undefined || waitMs <= 0) return view;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.min(waitMs, MAX_OPERATION_WAIT_MS))))]);
    clearTimeout(timer);
    return this.get(requestId, kind, jobId);
  }

  /** Whether an operation of these kinds is in progress for the job. */
  busy(jobId: string, kinds: readonly OperationKind[]): OperationView | undefined {
    for (const op of this.ops.values()) if (op.jobId === jobId && op.status === 'IN_PROGRESS' && kinds.includes(op.kind)) return { ...op };
    return undefined;
  }

  private trim(): void {
    if (this.ops.size <= KEPT) return;
    for (const [id, op] of this.ops) {
      if (this.ops.size <= KEPT) break;
      if (op.status !== 'IN_PROGRESS') this.ops.delete(id);
    }
  }
}
