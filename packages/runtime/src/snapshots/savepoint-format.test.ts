/**
 * The savepoint export file format, the merge of a key group's chain into one full base, and
 * look-ups by uid in savepoint metadata: pure, no storage involved (the store contract tests are in savepoint-store.test.ts and savepoint-detached.test.ts).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { Packr } from 'msgpackr';
import { mergeChain } from './chain-merge.js';
import { decodeExport, encodeExport } from './export-format.js';
import { inspectSavepoint } from './inspect.js';
import { materializePlan, savepointMetadata } from './savepoint-names.js';
import { SAVEPOINT_FORMAT_VERSION, type SavepointMetadata } from './savepoint-types.js';
import { codeIs, ROWS } from './store-testing.js';
import type { CompletedCheckpoint } from './types.js';

/** The state blob settings of snapshot-strategy.ts. */
const statePackr = new Packr({ moreTypes: true });

describe('export format', () => {
  const metadata = (): SavepointMetadata => ({
    formatVersion: SAVEPOINT_FORMAT_VERSION,
    id: 'sp-0123456789abcdef',
    jobName: 'wordcount',
    jobVersion: '1',
    jobId: 'j',
    checkpointId: 3,
    reason: 'stop',
    createdAt: 1_700_000_000_000,
    sizeBytes: 6,
    operators: { op: { uid: 'op', kind: 'actor', parallelism: 1, maxParallelism: 2, keyed: true, keyGroups: { 0: 'ks/op/0', 1: 'ks/op/1' }, operatorState: { 0: 'os/op/0' }, bytes: 6 } },
  });
  const blobs = [
    { name: 'ks/op/0', bytes: new Uint8Array([1, 2, 3]) },
    { name: 'ks/op/1', bytes: new Uint8Array([0xff, 0x00]) },
    { name: 'os/op/0', bytes: new Uint8Array([9]) },
  ];
  const plain = new Packr({ useRecords: false });
  /** Frames `records` as the format says (independently of encodeExport), with a correct trailer. */
  const frame = (records: unknown[]): Buffer => {
    const parts: Uint8Array[] = [Buffer.from('WEIRSAV1')];
    for (const r of records) {
      const body = plain.pack(r);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(body.byteLength);
      parts.push(length, body);
    }
    const sha256 = createHash('sha256').update(Buffer.concat(parts)).digest('hex');
    const trailer = plain.pack({ end: true, blobs: records.length - 1, sha256 });
    const length = Buffer.alloc(4);
    length.writeUInt32BE(trailer.byteLength);
    return Buffer.concat([...parts, length, trailer]);
  };

  test('round-trips, and is laid out as specified (magic, u32 BE records, checksummed trailer)', () => {
    const file = Buffer.from(encodeExport(metadata(), blobs));
    assert.ok(file.equals(frame([{ formatVersion: SAVEPOINT_FORMAT_VERSION, metadata: metadata() }, ...blobs])));
    const back = decodeExport(file);
    assert.deepEqual(back.metadata, metadata());
    assert.deepEqual(back.blobs.map((b) => [b.name, [...b.bytes]]), blobs.map((b) => [b.name, [...b.bytes]]));
  });

  test('any flipped byte and any truncation is WEIR_SAVEPOINT_CORRUPT', () => {
    const file = Buffer.from(encodeExport(metadata(), blobs));
    for (let i = 0; i < file.byteLength; i++) {
      const bad = Buffer.from(file);
      bad[i] ^= 0x20;
      assert.throws(() => decodeExport(bad), codeIs('WEIR_SAVEPOINT_CORRUPT'), `flip at ${i}`);
    }
    for (let n = 0; n < file.byteLength; n++) assert.throws(() => decodeExport(file.subarray(0, n)), codeIs('WEIR_SAVEPOINT_CORRUPT', n < 8 ? /bad magic/ : /truncated/), `truncated to ${n}`);
    assert.throws(() => decodeExport(Buffer.concat([file, Buffer.from([0])])), codeIs('WEIR_SAVEPOINT_CORRUPT', /truncated/));
  });

  test('format 2: a key group of several parts round-trips; parts out of bounds or missing are WEIR_SAVEPOINT_CORRUPT', () => {
    const parted = (parts: unknown): SavepointMetadata => ({ ...metadata(), operators: { op: { ...metadata().operators.op, keyGroupParts: parts as Record<number, number> } } });
    const withParts = [...blobs, { name: 'ks/op/1/1', bytes: new Uint8Array([7]) }, { name: 'ks/op/1/2', bytes: new Uint8Array([8]) }];
    const back = decodeExport(encodeExport(parted({ 1: 3 }), withParts));
    assert.deepEqual(back.metadata.operators.op!.keyGroupParts, { 1: 3 });
    assert.deepEqual(back.blobs.map((b) => b.name), withParts.map((b) => b.name));
    assert.throws(() => decodeExport(encodeExport(parted({ 1: 3 }), withParts.slice(0, -1))), codeIs('WEIR_SAVEPOINT_CORRUPT', /'ks\/op\/1\/2' named in the metadata is missing/));
    assert.throws(() => decodeExport(encodeExport(parted({ 1: 99 }), withParts)), codeIs('WEIR_SAVEPOINT_CORRUPT', /key group 1 of 'op' 99 parts/));
    assert.throws(() => decodeExport(encodeExport(parted({ 5: 2 }), withParts)), codeIs('WEIR_SAVEPOINT_CORRUPT', /key group 5/));
    assert.throws(() => decodeExport(encodeExport(parted({ 1: 1.5 }), withParts)), codeIs('WEIR_SAVEPOINT_CORRUPT', /1\.5 parts/));
  });

  test('a blob named in the metadata but not in the file, or one too many, is WEIR_SAVEPOINT_CORRUPT', () => {
    assert.throws(() => decodeExport(encodeExport(metadata(), blobs.slice(1))), codeIs('WEIR_SAVEPOINT_CORRUPT', /blob 'ks\/op\/0' named in the metadata is missing/));
    assert.throws(() => decodeExport(encodeExport(metadata(), [...blobs, { name: 'ks/op/7', bytes: new Uint8Array(1) }])), codeIs('WEIR_SAVEPOINT_CORRUPT', /'ks\/op\/7' is not named/));
    const escaping = { ...metadata(), operators: { op: { ...metadata().operators.op, keyGroups: { 0: '../../x', 1: 'ks/op/1' } } } };
    assert.throws(() => decodeExport(encodeExport(escaping, blobs)), codeIs('WEIR_SAVEPOINT_CORRUPT', /'\.\.\/\.\.\/x'/));
  });

  test('a newer format is WEIR_SAVEPOINT_FORMAT_UNSUPPORTED, in the header or the metadata', () => {
    const newer = SAVEPOINT_FORMAT_VERSION + 1;
    assert.throws(() => decodeExport(frame([{ formatVersion: newer, metadata: metadata() }, ...blobs])), codeIs('WEIR_SAVEPOINT_FORMAT_UNSUPPORTED', new RegExp(`format ${newer}`)));
    assert.throws(() => decodeExport(encodeExport({ ...metadata(), formatVersion: newer }, blobs)), codeIs('WEIR_SAVEPOINT_FORMAT_UNSUPPORTED'));
  });
});

describe('mergeChain', () => {
  const pack = (base: boolean, entries: unknown[], v = 1): Uint8Array => statePackr.pack({ v, base, entries });

  test('a single base is returned as is', () => {
    const base = pack(true, [['a', { n: 1 }]]);
    assert.equal(mergeChain([base]), base);
  });

  test('folds deltas (updates, tombstones, new keys) and starts over at a later base', () => {
    const merged = mergeChain([pack(true, ROWS.g1Base), pack(false, ROWS.g1Delta1), pack(false, ROWS.g1Delta2)]);
    assert.deepEqual(statePackr.unpack(merged), { v: 1, base: true, flat: ROWS.g1Merged.flat() });
    const restarted = mergeChain([pack(true, ROWS.g1Base), pack(false, [['gone', null]]), pack(true, [['q', { n: 0 }]]), pack(false, [['r', { n: 1 }]])]);
    assert.deepEqual(statePackr.unpack(restarted), { v: 1, base: true, flat: ['q', { n: 0 }, 'r', { n: 1 }] });
  });

  test('another format version, a chain without a base first, or garbage is WEIR_SNAPSHOT_CORRUPT', () => {
    assert.throws(() => mergeChain([pack(true, []), pack(false, [], 2)]), codeIs('WEIR_SNAPSHOT_CORRUPT', /format 2/));
    assert.throws(() => mergeChain([pack(false, []), pack(false, [])]), codeIs('WEIR_SNAPSHOT_CORRUPT', /full base/));
    assert.throws(() => mergeChain([pack(true, []), new Uint8Array([0xc1])]), codeIs('WEIR_SNAPSHOT_CORRUPT'));
  });
});

describe('uids and state names that are names of Object.prototype', () => {
  // Valid uids ('constructor', 'toString'), or anything a query string carries ('__proto__').
  const sp: SavepointMetadata = {
    formatVersion: SAVEPOINT_FORMAT_VERSION,
    id: 'sp-0123456789abcdef',
    jobName: 'j',
    jobVersion: '1',
    jobId: 'j',
    checkpointId: 3,
    reason: 'stop',
    createdAt: 1,
    sizeBytes: 1,
    operators: { count: { uid: 'count', kind: 'actor', parallelism: 1, maxParallelism: 1, keyed: true, state: { n: 'value' }, keyGroups: { 0: 'ks/count/0' }, operatorState: {}, bytes: 1 } },
  };
  const blobs = new Map([['ks/count/0', statePackr.pack({ v: 1, base: true, flat: ['a', { n: 1 }] })]]);
  const read = async (names: readonly string[]) => names.map((n) => blobs.get(n)!);

  test('inspect: an operator of such a name is WEIR_SAVEPOINT_OPERATOR_NOT_FOUND; a state of such a name is absent', async () => {
    for (const operator of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      await assert.rejects(inspectSavepoint(sp, read, { operator }), codeIs('WEIR_SAVEPOINT_OPERATOR_NOT_FOUND', new RegExp(`no operator '${operator}'`)));
    }
    assert.deepEqual((await inspectSavepoint(sp, read, { operator: 'count', state: 'constructor' })).sample?.entries, [{ keyGroup: 0, key: 'a', value: undefined }]);
  });

  test('materialize leaves out such a uid the savepoint lacks (it starts empty)', () => {
    const { checkpoint, copies } = materializePlan(sp, { jobId: 'new', attempt: 1, uids: ['count', 'constructor', 'toString', '__proto__'], withoutOperatorState: [] }, 2);
    assert.deepEqual(Object.keys(checkpoint.operators), ['count']);
    assert.deepEqual(copies.map((c) => c.from), ['ks/count/0']);
  });

  test('a savepoint of an operator of such a name that the job info does not describe is of kind unknown', () => {
    const taken: CompletedCheckpoint = {
      formatVersion: 1, id: 3, jobId: 'j', attempt: 1, timestamp: 1, completedAt: 2, finished: [], stateBytes: 0, writtenBytes: 0,
      operators: { constructor: { parallelism: 1, maxParallelism: 1, keyGroups: {}, operatorState: { 0: 'os/constructor/0/1-3' } } },
    };
    const meta = savepointMetadata('sp-0123456789abcdef', taken, { jobId: 'j', jobName: 'j', jobVersion: '1', reason: 'stop', operators: {} }, { constructor: 5 }, 1);
    assert.deepEqual(meta.operators.constructor, { uid: 'constructor', kind: 'unknown', parallelism: 1, maxParallelism: 1, keyed: false, keyGroups: {}, operatorState: { 0: 'os/constructor/0' }, bytes: 5 });
  });
});

describe('inspect', () => {
  // 10 key groups of 3 keys each; key group 1 is a base and a delta that removes a key and adds one.
  const groups = 10;
  const blobs = new Map<string, Uint8Array>();
  for (let g = 0; g < groups; g++) blobs.set(`ks/count/${g}`, statePackr.pack({ v: 1, base: true, flat: [0, 1, 2].flatMap((k) => [`k${g}-${k}`, { n: k }]) }));
  blobs.set('ks/count/1/1', statePackr.pack({ v: 1, base: false, flat: ['k1-0', null, 'k1-9', { n: 9 }] }));
  blobs.set('os/count/0', statePackr.pack({ v: 1, row: { seen: 4 } }));
  blobs.set('os/count/1', statePackr.pack({ v: 1, row: { seen: 5 } }));
  const sp: SavepointMetadata = {
    formatVersion: SAVEPOINT_FORMAT_VERSION, id: 'sp-0123456789abcdef', jobName: 'j', jobVersion: '1', jobId: 'j', checkpointId: 3, reason: 'manual', createdAt: 1, sizeBytes: 1,
    operators: {
      count: {
        uid: 'count', kind: 'actor', parallelism: 2, maxParallelism: groups, keyed: true, state: { n: 'value' },
        keyGroups: Object.fromEntries(Array.from({ length: groups }, (_, g) => [g, `ks/count/${g}`])), keyGroupParts: { 1: 2 }, operatorState: { 0: 'os/count/0', 1: 'os/count/1' }, bytes: 1,
      },
    },
  };
  const reader = () => {
    const calls: string[][] = [];
    return { calls, read: async (names: readonly string[]) => (calls.push([...names]), names.map((n) => blobs.get(n)!)) };
  };

  test('reads a few key groups at a time and stops once the sample is full: keys counts those read', async () => {
    const { calls, read } = reader();
    const r = await inspectSavepoint(sp, read, { operator: 'count', limit: 4 });
    assert.deepEqual(calls, [['ks/count/0', 'ks/count/1', 'ks/count/1/1', 'ks/count/2', 'ks/count/3']]);
    assert.deepEqual(r.sample, {
      operator: 'count', keys: 12, keyGroupsRead: 4,
      entries: [{ keyGroup: 0, key: 'k0-0', value: { n: 0 } }, { keyGroup: 0, key: 'k0-1', value: { n: 1 } }, { keyGroup: 0, key: 'k0-2', value: { n: 2 } }, { keyGroup: 1, key: 'k1-1', value: { n: 1 } }],
    });
  });

  test('count reads every key group, still a few at a time; operator state fills what room the sample has left', async () => {
    const { calls, read } = reader();
    const r = await inspectSavepoint(sp, read, { operator: 'count', limit: 31, count: true, state: 'seen' });
    assert.ok(calls.every((c) => c.filter((n) => /^ks\/count\/\d+$/.test(n)).length <= 4), JSON.stringify(calls));
    assert.equal(r.sample?.keys, 30);
    assert.equal(r.sample?.keyGroupsRead, groups);
    assert.deepEqual(r.sample?.entries.slice(-1), [{ subtask: 0, value: 4 }]);
    assert.deepEqual(calls.at(-1), ['os/count/0']);
    // No operator, no blob read.
    const none = reader();
    assert.equal((await inspectSavepoint(sp, none.read)).sample, undefined);
    assert.deepEqual(none.calls, []);
  });
});
