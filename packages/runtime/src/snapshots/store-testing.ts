/**
 * Helpers of the store tests (store.test.ts, the savepoint store tests, savepoint-format.test.ts). Not a test file
 * itself: the name matches none of the patterns `node --test` looks for.
 */
import type { SavepointStore } from './savepoint-types.js';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';

/** An `assert.throws`/`rejects` check: the error has `code` and, if given, a message matching `message`. */
export function codeIs(code: string, message?: RegExp): (err: unknown) => boolean {
  return (err) => {
    const e = err as { code?: unknown; message?: unknown };
    assert.equal(e.code, code, `expected ${code}, got ${String(e.code)}: ${String(e.message)}`);
    if (message) assert.match(String(e.message), message);
    return true;
  };
}

export async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, codeIs(code, message));
}

/** A command as ioredis hands it to `sendCommand`. */
export interface SentCommand {
  readonly name: string;
  readonly args: unknown[];
  readonly promise: Promise<unknown>;
}

/**
 * Calls `seen` with every command `redis` sends from now on: ioredis sends every command, pipelined
 * ones too, through `sendCommand`.
 */
export function onCommand(redis: Redis, seen: (command: SentCommand) => void): void {
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: SentCommand, ...rest: unknown[]) => {
    seen(command);
    return (send as (...a: unknown[]) => unknown)(command, ...rest);
  }) as typeof redis.sendCommand;
}

/** Every key matching `pattern`, with a bounded SCAN loop. */
export async function scanAll(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  for (let round = 0; round < 100_000; round++) {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...found);
    if (next === '0') return keys;
    cursor = next;
  }
  throw new Error(`SCAN of ${pattern} did not finish`);
}

/** A savepoint's whole export file, from its stream. */
export async function exportFile(store: Pick<SavepointStore, 'exportStream'>, id: string): Promise<Uint8Array> {
  const pieces: Uint8Array[] = [];
  for await (const piece of await store.exportStream(id)) pieces.push(piece);
  return Buffer.concat(pieces);
}

/** Rows of the test checkpoint's key groups (savepoint-store-fixtures.ts, savepoint-format.test.ts). */
export const ROWS = {
  g0: [['a', { count: 1 }], ['b', { count: 2, seen: new Set([1, 2]) }]],
  g1Base: [['x', { n: 1 }], ['y', { n: 2 }], ['z', { n: 3 }]],
  g1Delta1: [['x', { n: 10 }], ['y', null]],
  g1Delta2: [['w', { n: 4, m: new Map([['k', 1]]) }], ['z', null]],
  /** What the g1 chain folds into: updated rows keep their place, new ones come after. */
  g1Merged: [['x', { n: 10 }], ['w', { n: 4, m: new Map([['k', 1]]) }]],
};
