import type { SavepointStore } from '@weir/runtime';
import type { Logger } from 'pino';
import type { SavepointCompactor } from './compactor.js';

/** Default age of what a savepoint never completed left before it is deleted: far beyond any savepoint's write phase. */
export const DEFAULT_ORPHAN_SAVEPOINT_AGE_MS = 10 * 60_000;

/**
 * The savepoint store's upkeep while a coordinator runs. As it starts: the copies of job blobs a
 * predecessor recorded but never made, then the compaction sweep. At start and then every
 * `orphanAgeMs` (at most hourly): what savepoints that never completed left.
 */
export class SavepointHousekeeping {
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(
    private readonly store: SavepointStore,
    private readonly compactor: SavepointCompactor,
    private readonly log: Logger,
    private readonly orphanAgeMs = DEFAULT_ORPHAN_SAVEPOINT_AGE_MS,
  ) {}

  start(): void {
    // Copies first: a compaction would wait for them anyway.
    void this.copyReferences().then(() => this.compactor.sweep());
    void this.sweepOrphans();
    // Capped: a timer over 2^31-1 ms would fire at once; an hour is often enough for any age.
    this.timer = setInterval(() => void this.sweepOrphans(), Math.min(Math.max(1_000, this.orphanAgeMs), 3_600_000));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.compactor.stop();
  }

  /**
   * Makes every savepoint self-contained whose coordinator stopped before it copied in the job
   * blobs it referred to (nothing deletes those blobs meanwhile: their job ended with that
   * coordinator). A failure is logged; a reader of such a savepoint tries the copy again.
   */
  private async copyReferences(): Promise<void> {
    try {
      for (const sp of await this.store.list()) {
        await this.store.copyReferences(sp.id).catch((err: unknown) => this.log.error({ err, savepoint: sp.id }, 'savepoint could not copy in the job blobs it refers to'));
      }
    } catch (err) {
      this.log.warn({ err }, 'could not list the savepoints to finish their copies');
    }
  }

  /** Deletes what savepoints never completed left; a failure is logged and tried again next time. */
  private async sweepOrphans(): Promise<void> {
    if (this.sweeping) return; // a scan of a large keyspace may outlast the interval
    this.sweeping = true;
    try {
      const swept = await this.store.sweepOrphans(this.orphanAgeMs);
      if (swept.length > 0) this.log.info({ savepoints: swept }, 'deleted what savepoints never completed left (their coordinator stopped while taking them)');
    } catch (err) {
      this.log.warn({ err }, 'could not look for what savepoints never completed left; tried again later');
    } finally {
      this.sweeping = false;
    }
  }
}
