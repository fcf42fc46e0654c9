/**
 * Which indexes of a modulo-split input are already done, exactly, across any chain of rescales.
 *
 * Sources like the generator (indexes) and JetStream (sequences) split their input by index:
 * subtask k of p handles the indexes ≡ k (mod p), in increasing order. Its progress is the next
 * index it has not handled: every index of its class below it is done. After a rescale, the old
 * subtasks' progress form a generation: with parallelism P and progress n_j, an index is done iff
 * idx < n_(idx mod P), or an older generation (the prior of that old subtask) marks it done. A new
 * subtask k of p' handles its class minus what is done, and carries the generation in its own
 * progress as long as it can still mark an index of its class ahead of it, so that a failover or
 * a further rescale stays exact (nothing lost, nothing twice).
 *
 * Everything here is plain data (numbers, arrays, objects), so positions pack with msgpack. A
 * progress without a prior is a plain number: the format readers had before rescaling existed.
 */

/**
 * One subtask's progress over its class: every index of the class below `next` is done, and so is
 * every index `prior` marks done. A plain number is a progress without a prior.
 */
export type SplitProgress = number | { readonly next: number; readonly prior?: SplitGeneration };

/**
 * The progress of every subtask of an earlier parallelism `p`, by subtask index; the entry of
 * subtask j speaks only about indexes ≡ j (mod p). null: nothing of it matters (it did nothing,
 * or everything it did lies behind the holder of this generation).
 */
export interface SplitGeneration {
  readonly p: number;
  readonly subtasks: readonly (SplitProgress | null)[];
}

interface Entry {
  readonly next: number;
  readonly prior?: SplitGeneration | undefined;
}

/** A residue class: the integers ≡ r (mod m). */
interface Class {
  readonly r: number;
  readonly m: number;
}

/** Above this, class intersections fall back to the coarser class (still correct, less precise). */
const MAX_MODULUS = 2 ** 40;

function entry(p: SplitProgress | null | undefined): Entry | undefined {
  if (typeof p === 'number') return { next: p };
  if (p === null || typeof p !== 'object' || typeof p.next !== 'number') return undefined;
  return p;
}

const mod = (a: number, m: number): number => ((a % m) + m) % m;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** x⁻¹ mod m, for gcd(x, m) = 1. */
function inverse(x: number, m: number): number {
  let [r0, r1, t0, t1] = [mod(x, m), m, 1, 0];
  while (r1 !== 0) {
    const q = Math.floor(r0 / r1);
    [r0, r1] = [r1, r0 - q * r1];
    [t0, t1] = [t1, t0 - q * t1];
  }
  return mod(t0, m);
}

/** The smallest integer ≥ x in class c. */
function ceilClass(x: number, c: Class): number {
  return x + mod(c.r - x, c.m);
}

/**
 * The class of the integers in both (r, m) and (j, P): null when there are none; the coarser
 * (r, m) when the combined modulus would be too large to compute with exactly (a superset).
 */
function intersect(c: Class, j: number, P: number): Class | null {
  const g = gcd(c.m, P);
  if (mod(j - c.r, g) !== 0) return null;
  const l = (c.m / g) * P;
  if (l > MAX_MODULUS) return c;
  // r + m·t ≡ j (mod P)  ⇔  (m/g)·t ≡ (j - r)/g (mod P/g)
  const pg = P / g;
  const t = pg === 1 ? 0 : mod(mod((j - c.r) / g, pg) * inverse(c.m / g, pg), pg);
  return { r: mod(c.r + c.m * t, l), m: l };
}

/** Whether `gen` marks `idx` (≥ 0) done. */
export function isDone(gen: SplitGeneration, idx: number): boolean {
  const e = entry(gen.subtasks[idx % gen.p]);
  return e !== undefined && (idx < e.next || (e.prior !== undefined && isDone(e.prior, idx)));
}

/** An index at and above which `gen` marks nothing done. */
function horizon(gen: SplitGeneration): number {
  let h = 0;
  for (const s of gen.subtasks) {
    const e = entry(s);
    if (e) h = Math.max(h, e.next, e.prior ? horizon(e.prior) : 0);
  }
  return h;
}

/**
 * A lower bound of the first index ≥ from in class c that `gen` does not mark done (exact unless
 * a modulus got too large). Each old subtask's share of c is a class of its own: past its next,
 * only its prior can mark anything, so no index has to be visited.
 */
function firstNotDone(gen: SplitGeneration, c: Class, from: number): number {
  let best = Infinity;
  for (let j = 0; j < gen.p; j++) {
    const cj = intersect(c, j, gen.p);
    if (cj === null) continue;
    const e = entry(gen.subtasks[j]);
    let x = ceilClass(e ? Math.max(from, e.next) : from, cj);
    if (e?.prior) x = firstNotDone(e.prior, cj, x);
    if (x < best) best = x;
  }
  return best === Infinity ? ceilClass(from, c) : best;
}

/**
 * `gen` without what cannot mark an index ≥ floor in class c done: entries of other classes,
 * entries passed, priors passed. undefined when nothing is left.
 */
function pruneGeneration(gen: SplitGeneration, c: Class, floor: number): SplitGeneration | undefined {
  let kept = false;
  const subtasks = gen.subtasks.map((s, j): SplitProgress | null => {
    const e = entry(s);
    if (!e) return null;
    const cj = intersect(c, j, gen.p);
    if (cj === null) return null;
    const own = ceilClass(floor, cj) < e.next;
    const prior = e.prior ? pruneGeneration(e.prior, cj, floor) : undefined;
    if (!own && !prior) return null;
    kept = true;
    return prior ? { next: e.next, prior } : e.next;
  });
  // Keep the length: entries are found by index mod p.
  while (subtasks.length < gen.p) subtasks.push(null);
  return kept ? { p: gen.p, subtasks } : undefined;
}

/**
 * The share of subtask `subtask` of `parallelism`: the indexes ≡ subtask (mod parallelism) that no
 * earlier generation did. Indexes must be asked about in increasing order (the prior is dropped
 * for good once passed).
 */
export class SplitShare {
  private prior: SplitGeneration | undefined;
  private horizon = 0;
  private readonly cls: Class;

  constructor(
    readonly subtask: number,
    readonly parallelism: number,
    prior?: SplitGeneration,
  ) {
    this.cls = { r: subtask, m: parallelism };
    this.prior = prior;
    if (prior) this.horizon = horizon(prior);
  }

  /** Whether an index of this share's class is still to be handled (no earlier generation did it). */
  isPending(idx: number): boolean {
    if (this.prior === undefined) return true;
    if (idx >= this.horizon) {
      this.prior = undefined;
      return true;
    }
    return !isDone(this.prior, idx);
  }

  /** The first index ≥ from of this share's class still to be handled. */
  firstPending(from: number): number {
    let x = ceilClass(from, this.cls);
    for (let step = 0; this.prior !== undefined && x < this.horizon; step++) {
      if (!isDone(this.prior, x)) return x;
      // A few steps first: a jump costs as much as the prior is large; a long run of done indexes is worth it.
      x = step < 16 ? x + this.parallelism : Math.max(x + this.parallelism, firstNotDone(this.prior, this.cls, x + this.parallelism));
    }
    if (x >= this.horizon) this.prior = undefined;
    return x;
  }

  /** Progress to checkpoint when every index of the class below `next` is done: the prior only while it matters. */
  progress(next: number): SplitProgress {
    if (this.prior === undefined) return next;
    const prior = pruneGeneration(this.prior, this.cls, next);
    return prior ? { next, prior } : next;
  }
}

/**
 * Where subtask `subtask` of `parallelism` resumes: from `restored`, its own progress (same
 * parallelism) or the progress of the rescaled-from generation (see `rescaledProgress`), or from
 * the start. `base` is the smallest index of the input (0 for indexes, 1 for stream sequences).
 */
export function resumeShare(subtask: number, parallelism: number, base: number, restored?: SplitProgress | null): { share: SplitShare; next: number } {
  const e = entry(restored);
  const from = Math.max(base, e?.next ?? base);
  const prior = e?.prior ? pruneGeneration(e.prior, { r: subtask, m: parallelism }, from) : undefined;
  const share = new SplitShare(subtask, parallelism, prior);
  return { share, next: share.firstPending(from) };
}

/**
 * The progress a subtask starts from after a rescale: nothing of its own, and every old subtask's
 * progress (by old index; null or undefined where it did nothing) as the prior.
 */
export function rescaledProgress(base: number, oldParallelism: number, progress: readonly (SplitProgress | null | undefined)[]): SplitProgress {
  const subtasks = Array.from({ length: oldParallelism }, (_, j) => (entry(progress[j]) ? progress[j]! : null));
  return { next: base, prior: { p: oldParallelism, subtasks } };
}

/** `position` as a SplitProgress (a number, or `{next, prior}`), or undefined when it is neither. */
export function asSplitProgress(position: unknown): SplitProgress | undefined {
  if (typeof position === 'number') return position;
  const e = entry(position as SplitProgress);
  if (!e) return undefined;
  return e.prior ? { next: e.next, prior: e.prior } : e.next;
}
