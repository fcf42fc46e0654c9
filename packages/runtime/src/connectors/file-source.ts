import { open, stat } from 'node:fs/promises';
import { WeirError } from '@weir/sdk';
import type { ConnectorContext, SourceReader } from './types.js';

const CHUNK = 1 << 20;

/**
 * Lines of a file. Subtask i reads the lines that start in its byte range [i*size/p, (i+1)*size/p),
 * like Flink's file splits: a line belongs to the range its first byte is in.
 */
export async function fileSource(o: { path: string }, ctx: ConnectorContext, position?: unknown): Promise<SourceReader> {
  let size: number;
  try {
    size = (await stat(o.path)).size;
  } catch (e) {
    throw new WeirError('WEIR_SOURCE_FILE_UNREADABLE', `file source '${ctx.operatorUid}' cannot read '${o.path}': ${(e as Error).message}`, { cause: e });
  }
  const start = Math.floor((size * ctx.subtask) / ctx.parallelism);
  const end = Math.floor((size * (ctx.subtask + 1)) / ctx.parallelism);
  const fh = await open(o.path, 'r');
  const decoder = new TextDecoder();
  let pos = start; // byte offset of the next unread byte
  let carry = '';
  let skipFirst = start > 0; // the line in progress at `start` belongs to the previous range
  let lineStart = start;
  let done = start >= end;
  // When start > 0 we must know whether byte start-1 is a newline (then the line at start is ours).
  if (skipFirst) {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, start - 1);
    if (b[0] === 0x0a) skipFirst = false;
  }
  // Restore: resume at the first byte of the first line not yet emitted (a whole line's start).
  if (typeof position === 'number' && position > start) {
    pos = lineStart = position;
    skipFirst = false;
    done = position >= end;
  }
  return {
    async poll(max) {
      const out: string[] = [];
      while (!done && out.length < max) {
        const buf = Buffer.alloc(CHUNK);
        const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
        if (bytesRead === 0) {
          if (carry.length > 0 && lineStart < end && !skipFirst) out.push(carry);
          carry = '';
          lineStart = pos;
          done = true;
          break;
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
          if (lineStart >= end) {
            done = true;
            break;
          }
        }
        if (!done) carry += decoder.decode(buf.subarray(from, bytesRead), { stream: true });
        pos += bytesRead;
      }
      if (out.length === 0 && done) return null;
      return out;
    },
    // Everything before the line in progress has been emitted (the carry is read again).
    position: () => lineStart,
    async close() {
      await fh.close();
    },
  };
}
