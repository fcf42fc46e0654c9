import { open, stat } from 'node:fs/promises';
import { WeirError } from '@weir/sdk';
import { RescaledPositions, type ConnectorContext, type SourceReader } from './types.js';

const CHUNK = 1 << 20;

/** Bytes [from, to) of the file. */
export type ByteInterval = readonly [from: number, to: number];

/** The byte range of subtask `subtask` of `parallelism`: its lines are those whose first byte is in it. */
export function fileRange(size: number, subtask: number, parallelism: number): ByteInterval {
  return [Math.floor((size * subtask) / parallelism), Math.floor((size * (subtask + 1)) / parallelism)];
}

/**
 * The bytes of `range` in which every line that starts there was read, by the reader of `range`
 * whose position this is: a number n (every line starting in [start, n)), or `{next, done}` (a
 * reader restored at another parallelism: [start, next) and the intervals `done` it skipped).
 */
export function doneIntervals(position: unknown, range: ByteInterval): ByteInterval[] {
  const [start, end] = range;
  const clip = (a: number, b: number): ByteInterval[] => (Math.min(b, end) > Math.max(a, start) ? [[Math.max(a, start), Math.min(b, end)]] : []);
  if (typeof position === 'number') return clip(start, position);
  const p = position as { next?: unknown; done?: unknown } | null;
  if (typeof p !== 'object' || p === null || typeof p.next !== 'number' || !Array.isArray(p.done)) return [];
  return [...clip(start, p.next), ...(p.done as [number, number][]).flatMap(([a, b]) => clip(a, b))];
}

/** `range` minus the `done` intervals: sorted, disjoint, none empty. */
export function subtractIntervals(range: ByteInterval, done: readonly ByteInterval[]): ByteInterval[] {
  const out: ByteInterval[] = [];
  let at = range[0];
  for (const [a, b] of [...done].sort((x, y) => x[0] - y[0])) {
    if (a > at) out.push([at, Math.min(a, range[1])]);
    at = Math.max(at, b);
    if (at >= range[1]) return out;
  }
  if (at < range[1]) out.push([at, range[1]]);
  return out;
}

/**
 * Lines of a file. Subtask i reads the lines that start in its byte range [i*size/p, (i+1)*size/p),
 * like Flink's file splits: a line belongs to the range its first byte is in. Its position is the
 * start of the first line not yet emitted (a number). Restored at another parallelism, it reads
 * its range minus what the old subtasks' ranges had done; while such done intervals lie ahead,
 * the position is `{next, done}` (see `doneIntervals`).
 */
export async function fileSource(o: { path: string }, ctx: ConnectorContext, position?: unknown): Promise<SourceReader> {
  let size: number;
  try {
    size = (await stat(o.path)).size;
  } catch (e) {
    throw new WeirError('WEIR_SOURCE_FILE_UNREADABLE', `file source '${ctx.operatorUid}' cannot read '${o.path}': ${(e as Error).message}`, { cause: e });
  }
  const range = fileRange(size, ctx.subtask, ctx.parallelism);
  const rescaled = RescaledPositions.of(position);
  // Sizes are the same (a changed file cannot be resumed anyway), so the old ranges are known.
  const done = rescaled ? rescaled.positions.flatMap((p, j) => doneIntervals(p, fileRange(size, j, rescaled.parallelism))) : doneIntervals(position, range);
  // The intervals whose lines are still to read, in order; `next` is the one being read.
  const todo = subtractIntervals(range, done);
  let next = -1;
  const fh = await open(o.path, 'r');
  let decoder = new TextDecoder();
  let end = range[0]; // end of the interval being read
  let pos = range[0]; // byte offset of the next unread byte
  let carry = '';
  let skipFirst = false; // the line in progress at the interval's start belongs before it
  let lineStart = range[0]; // every line of the range starting before it (and not in a later done interval) was emitted
  let finished = false;
  /** Move to the next interval to read, or finish. */
  const advance = async (): Promise<void> => {
    next++;
    if (next >= todo.length) {
      finished = true;
      lineStart = Math.max(lineStart, range[1]);
      return;
    }
    const [from, to] = todo[next]!;
    pos = lineStart = from;
    end = to;
    carry = '';
    decoder = new TextDecoder();
    skipFirst = false;
    // Unless byte from-1 is a newline, the line at `from` started before it: not this interval's.
    if (from > 0) {
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, from - 1);
      skipFirst = b[0] !== 0x0a;
    }
  };
  await advance();
  return {
    async poll(max) {
      const out: string[] = [];
      while (!finished && out.length < max) {
        const buf = Buffer.alloc(CHUNK);
        const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
        if (bytesRead === 0) {
          if (carry.length > 0 && lineStart < end && !skipFirst) out.push(carry);
          carry = '';
          lineStart = pos;
          await advance();
          continue;
        }
        // Work on bytes so offsets stay exact whatever the encoding.
        let from = 0;
        for (let i = 0; i < bytesRead; i++) {
          if (buf[i] !== 0x0a) continue;
          const line = carry + decoder.decode(buf.subarray(from, i));
          carry = '';
          if (skipFirst) skipFirst = false;
          else if (lineStart < end) out.push(line.endsWith('\r') ? line.slice(0, -1) : line);
          lineStart = pos + i + 1;
          from = i + 1;
          if (lineStart >= end) break;
        }
        if (lineStart >= end) {
          await advance();
          continue;
        }
        carry += decoder.decode(buf.subarray(from, bytesRead), { stream: true });
        pos += bytesRead;
      }
      if (out.length === 0 && finished) return null;
      return out;
    },
    // Everything before the line in progress has been emitted (the carry is read again), and so
    // were the lines starting in the done intervals between the ones still to read.
    position: () => {
      if (finished) return lineStart;
      const ahead: [number, number][] = [];
      for (let i = next; i < todo.length; i++) {
        const gapEnd = i + 1 < todo.length ? todo[i + 1]![0] : range[1];
        if (gapEnd > todo[i]![1]) ahead.push([todo[i]![1], gapEnd]);
      }
      return ahead.length === 0 ? lineStart : { next: lineStart, done: ahead };
    },
    async close() {
      await fh.close();
    },
  };
}
