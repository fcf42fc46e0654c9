import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { WeirError } from '@weir/sdk';
import type { ConnectorContext, SinkWriter } from './types.js';

const json = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** Prints records to standard output, one line each. */
export async function printSink(o: { prefix?: string; format?: (v: unknown) => string }): Promise<SinkWriter> {
  const format = o.format ?? json;
  const prefix = o.prefix ?? '';
  return {
    write(records) {
      let text = '';
      for (const r of records) text += prefix + format(r) + '\n';
      return new Promise<void>((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));
    },
    async close() {},
  };
}

export async function discardSink(): Promise<SinkWriter> {
  return { write() {}, async close() {} };
}

/** Appends lines to `<directory>/part-<subtask>`. */
export async function fileSink(o: { directory: string; format?: (v: unknown) => string }, ctx: ConnectorContext): Promise<SinkWriter> {
  const format = o.format ?? json;
  const path = join(o.directory, `part-${ctx.subtask}`);
  let out: WriteStream;
  try {
    mkdirSync(o.directory, { recursive: true });
    out = createWriteStream(path, { flags: 'w' });
    await new Promise<void>((resolve, reject) => out.once('open', () => resolve()).once('error', reject));
  } catch (e) {
    throw new WeirError('WEIR_SINK_FILE_UNWRITABLE', `file sink '${ctx.operatorUid}' cannot write '${path}': ${(e as Error).message}`, { cause: e });
  }
  return {
    write(records) {
      let text = '';
      for (const r of records) text += format(r) + '\n';
      if (out.write(text)) return;
      return new Promise<void>((resolve) => out.once('drain', resolve));
    },
    close: () => new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve()))),
  };
}
