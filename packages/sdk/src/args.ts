import { JobArgumentError } from './errors.js';

/** Job parameters, given on the command line as `--arg key=value`. */
export interface JobArgs {
  /** The raw value, or undefined. */
  get(name: string): string | undefined;
  has(name: string): boolean;
  string(name: string, fallback?: string): string;
  int(name: string, fallback?: number): number;
  number(name: string, fallback?: number): number;
  bool(name: string, fallback?: boolean): boolean;
  /** All arguments as a plain object (serializable). */
  toJSON(): Record<string, string>;
}

/** Parse `key=value` strings into a record; a string without `=` is an error. */
export function parseArgPairs(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new JobArgumentError(`--arg expects key=value, got '${pair}'`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export function jobArgs(values: Readonly<Record<string, string>>): JobArgs {
  const raw = { ...values };
  const required = (name: string): string => {
    const v = raw[name];
    if (v === undefined) throw new JobArgumentError(`missing job argument '${name}': pass --arg ${name}=<value>`);
    return v;
  };
  // Number('') and Number('  ') are 0: an empty `--arg n=` must not quietly become zero.
  const nonEmpty = (name: string, v: string, kind: string): string => {
    if (v.trim() === '') throw new JobArgumentError(`job argument '${name}' is empty; give it ${kind}: --arg ${name}=<value>`);
    return v;
  };
  return {
    get: (name) => raw[name],
    has: (name) => raw[name] !== undefined,
    string: (name, fallback) => (raw[name] ?? (fallback !== undefined ? fallback : required(name))),
    int(name, fallback) {
      const v = raw[name];
      if (v === undefined) return fallback ?? Number(required(name));
      const n = Number(nonEmpty(name, v, 'an integer').replace(/_/g, ''));
      if (!Number.isSafeInteger(n)) throw new JobArgumentError(`job argument '${name}' must be an integer, got '${v}'`);
      return n;
    },
    number(name, fallback) {
      const v = raw[name];
      if (v === undefined) return fallback ?? Number(required(name));
      const n = Number(nonEmpty(name, v, 'a number'));
      if (!Number.isFinite(n)) throw new JobArgumentError(`job argument '${name}' must be a number, got '${v}'`);
      return n;
    },
    bool(name, fallback) {
      const v = raw[name];
      if (v === undefined) return fallback ?? required(name) === 'true';
      nonEmpty(name, v, 'true or false');
      if (v === 'true' || v === '1' || v === 'yes') return true;
      if (v === 'false' || v === '0' || v === 'no') return false;
      throw new JobArgumentError(`job argument '${name}' must be true or false, got '${v}'`);
    },
    toJSON: () => ({ ...raw }),
  };
}
