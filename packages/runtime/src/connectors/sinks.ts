import type { SinkWriter } from './types.js';

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
