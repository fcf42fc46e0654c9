import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineActor } from './actor.js';
import { discard, generator, print } from './connectors/index.js';
import { buildJob, defineJob } from './job.js';
import { jobArgs, parseArgPairs } from './args.js';
import { valueState } from './state.js';
import { validateGraph } from './validate.js';
import { MAX_OPERATORS, type JobGraphDescription } from './graph.js';

const code = (c: string) => (e: unknown) => (e as { code?: string }).code === c;
const counter = defineActor({ state: { n: valueState(0) }, onMessage(w: string, { state }) { state.n.set(state.n.get() + 1); return w; } });

test('a valid job builds deterministically; implicit edges are forward or rebalance; keyBy is hash', () => {
  const job = defineJob({ name: 'ok' }, (env) =>
    env.source(generator({ count: 10 }), { uid: 'src' })
      .flatMap((l) => l.split(' '), { uid: 'split' })
      .map((w) => w, { uid: 'narrow', parallelism: 1 })
      .keyBy((w) => w)
      .actor(counter, { uid: 'count', parallelism: 2 })
      .sink(print(), { uid: 'out' }),
  );
  const a = buildJob(job, { parallelism: 2 }).description;
  assert.deepEqual(a, buildJob(job, { parallelism: 2 }).description);
  assert.deepEqual(JSON.parse(JSON.stringify(a)), a);
  const byUid = Object.fromEntries(a.nodes.map((n) => [n.uid, n]));
  assert.equal(byUid.split!.inputs[0]!.partitioning, 'forward');
  assert.equal(byUid.narrow!.inputs[0]!.partitioning, 'rebalance');
  assert.equal(byUid.count!.inputs[0]!.partitioning, 'hash');
  assert.equal(byUid.count!.keyed, true);
  assert.deepEqual(byUid.count!.state, { n: 'value' });
});

test('union merges inputs; reduce and sum are keyed actors', () => {
  const { description } = buildJob(defineJob({ name: 'u' }, (env) => {
    const a = env.source(generator({ count: 1, make: (i) => i }), { uid: 'a' });
    const b = env.source(generator({ count: 1, make: (i) => i }), { uid: 'b' });
    a.union(b).keyBy((n) => n % 2).reduce((x, y) => x + y, { uid: 'r' }).keyBy((n) => n).sum((n) => n, { uid: 's' }).sink(discard(), { uid: 'o' });
  }));
  const r = description.nodes.find((n) => n.uid === 'r')!;
  assert.deepEqual(r.inputs.map((e) => e.from), [0, 1]);
  assert.ok(r.keyed && description.nodes.find((n) => n.uid === 's')!.keyed);
});

test('invalid graphs fail with typed codes', () => {
  const build = (f: Parameters<typeof defineJob>[1], p = 1) => () => buildJob(defineJob({ name: 'bad' }, f), { parallelism: p });
  assert.throws(build((env) => env.source(generator(), { uid: 'x' }).map((v) => v, { uid: 'x' }).sink(print())), code('WEIR_GRAPH_DUPLICATE_UID'));
  const timed = defineActor({ onMessage(v: string) { return v; }, onTimer() {} });
  assert.throws(build((env) => env.source(generator()).actor(timed).sink(print())), code('WEIR_GRAPH_KEYED_WITHOUT_KEYBY'));
  for (const p of [0, 1.5, 200]) assert.throws(build((env) => env.source(generator(), { parallelism: p }).sink(print())), code('WEIR_GRAPH_INVALID_PARALLELISM'), `parallelism ${p}`);
  assert.throws(build((env) => env.source(generator(), { maxParallelism: 0 }).sink(print())), code('WEIR_GRAPH_INVALID_MAX_PARALLELISM'));
  assert.throws(build((env) => env.source(generator(), { parallelism: 2 }).forward().map((x) => x, { parallelism: 1 }).sink(print())), code('WEIR_GRAPH_FORWARD_PARALLELISM'));
  assert.throws(build((env) => void env.source(generator()).map((x) => x)), code('WEIR_GRAPH_NO_SINK'));
  assert.throws(build((env) => env.source(generator(), { uid: 'bad uid!' }).sink(print())), code('WEIR_GRAPH_INVALID_UID'));
  assert.throws(() => buildJob(defineJob({ name: 'no spaces' }, (env) => env.source(generator()).sink(print()))), code('WEIR_GRAPH_INVALID_NAME'));
  assert.throws(build(() => undefined), code('WEIR_GRAPH_EMPTY'));
  assert.throws(build((env) => env.source({} as never)), code('WEIR_GRAPH_INVALID_CONNECTOR'));
  assert.throws(() => buildJob(defineJob({ name: 'p' }, (env) => env.source(generator()).sink(print())), { parallelism: -1 }), code('WEIR_GRAPH_INVALID_PARALLELISM'));
});

test('hand-made descriptions (as REST receives them) are checked too', () => {
  const base = buildJob(defineJob({ name: 'd' }, (env) => env.source(generator()).keyBy((x) => x).actor(counter).sink(print()))).description;
  const edit = (f: (d: any) => void): JobGraphDescription => {
    const d = JSON.parse(JSON.stringify(base));
    f(d);
    return d;
  };
  validateGraph(base);
  assert.throws(() => validateGraph(edit((d) => (d.nodes[1].inputs[0].partitioning = 'rebalance'))), code('WEIR_GRAPH_KEYED_WITHOUT_KEYBY'));
  assert.throws(() => validateGraph(edit((d) => (d.nodes[1].inputs[0].from = 2))), code('WEIR_GRAPH_INVALID_EDGE'));
  assert.throws(() => validateGraph(edit((d) => (d.apiVersion = 2))), code('WEIR_GRAPH_UNSUPPORTED_VERSION'));
  assert.throws(() => validateGraph(edit((d) => (d.nodes[1].kind = 'window'))), code('WEIR_GRAPH_UNKNOWN_OPERATOR'));
});

test('malformed descriptions (wrong types, missing fields) are WEIR_GRAPH_MALFORMED naming the field, not TypeErrors', () => {
  const base = buildJob(defineJob({ name: 'd' }, (env) => env.source(generator()).keyBy((x) => x).actor(counter).sink(print()))).description;
  const edit = (f: (d: any) => void): JobGraphDescription => {
    const d = JSON.parse(JSON.stringify(base));
    f(d);
    return d;
  };
  const cases: [string, (d: any) => void, RegExp][] = [
    ['no inputs', (d) => delete d.nodes[1].inputs, /operator 'actor-1': inputs must be an array/],
    ['a null input', (d) => (d.nodes[1].inputs = [null]), /operator 'actor-1': input 0 must be an object/],
    ['keyed as a string', (d) => (d.nodes[1].keyed = 'no'), /operator 'actor-1': keyed must be true or false, got 'no'/],
    ['chaining missing', (d) => delete d.nodes[0].chaining, /chaining must be true or false, got nothing/],
    ['checkpoints as a number', (d) => (d.config = { checkpoints: 5 }), /config\.checkpoints must be an object, got 5/],
    ['config as a string', (d) => (d.config = 'x'), /the job config must be an object/],
    ['a null operator', (d) => (d.nodes[0] = null), /the operator at position 0 must be an object, got null/],
    ['state with a non-string kind', (d) => (d.nodes[1].state = { n: 1 }), /state must map state names to kinds/],
    ['version as a number', (d) => (d.version = 2), /the job version must be a string/],
  ];
  for (const [what, f, message] of cases) {
    assert.throws(() => validateGraph(edit(f)), (e: { code?: string; message?: string }) => e.code === 'WEIR_GRAPH_MALFORMED' && message.test(e.message ?? ''), what);
  }
  assert.throws(() => validateGraph(null as never), code('WEIR_GRAPH_MALFORMED'));
});

test('job arguments parse and fail with WEIR_JOB_ARG_INVALID', () => {
  const a = jobArgs(parseArgPairs(['n=1_000', 'x=1.5', 'b=true', 's=a=b']));
  assert.equal(a.int('n'), 1000);
  assert.equal(a.number('x'), 1.5);
  assert.equal(a.bool('b'), true);
  assert.equal(a.string('s'), 'a=b');
  assert.equal(a.int('missing', 7), 7);
  assert.throws(() => a.int('x'), code('WEIR_JOB_ARG_INVALID'));
  assert.throws(() => a.string('missing'), code('WEIR_JOB_ARG_INVALID'));
  assert.throws(() => jobArgs({ b: 'maybe' }).bool('b'), code('WEIR_JOB_ARG_INVALID'));
  assert.throws(() => parseArgPairs(['novalue']), code('WEIR_JOB_ARG_INVALID'));
});

test("a build function's own error is WEIR_JOB_BUILD_FAILED naming the job and source; Weir's errors keep their code", () => {
  const throwing = defineJob({ name: 'bt' }, () => {
    throw new Error('boom in build');
  });
  assert.throws(() => buildJob(throwing, { source: 'job file jobs/bt.ts' }), (e: { code?: string; message?: string; cause?: unknown }) =>
    e.code === 'WEIR_JOB_BUILD_FAILED' && /the build function of job 'bt' \(job file jobs\/bt\.ts\) threw: boom in build/.test(e.message ?? '') && (e.cause as Error).message === 'boom in build');
  assert.throws(() => buildJob(defineJob({ name: 's' }, () => { throw 'a string'; })), (e: { code?: string; message?: string }) => e.code === 'WEIR_JOB_BUILD_FAILED' && /threw: a string/.test(e.message ?? ''));
  const needsArg = defineJob({ name: 'a' }, (env, args) => env.source(generator({ count: args.int('n') })).sink(print()));
  assert.throws(() => buildJob(needsArg), code('WEIR_JOB_ARG_INVALID'));
  // A bundle's own copy of the SDK throws errors of another class: the code is what counts.
  const foreign = defineJob({ name: 'f' }, () => {
    throw Object.assign(new Error('from the bundled SDK'), { code: 'WEIR_GRAPH_INVALID_KEY' });
  });
  assert.throws(() => buildJob(foreign), code('WEIR_GRAPH_INVALID_KEY'));
});

test('an empty or blank --arg for an int, number or bool is refused naming the arg, never read as 0', () => {
  for (const blank of ['', ' ', '\t ']) {
    const a = jobArgs(parseArgPairs([`n=${blank}`]));
    for (const [kind, read] of [['an integer', () => a.int('n', 5)], ['a number', () => a.number('n', 5)], ['true or false', () => a.bool('n', true)]] as const) {
      assert.throws(read, (e: { code?: string; message?: string }) => e.code === 'WEIR_JOB_ARG_INVALID' && e.message === `job argument 'n' is empty; give it ${kind}: --arg n=<value>`, `${kind} from ${JSON.stringify(blank)}`);
    }
    assert.equal(a.string('n'), blank, 'a string may be empty');
  }
});

test('a graph of more than MAX_OPERATORS (10,000) operators is WEIR_GRAPH_TOO_LARGE', () => {
  const chain = (n: number): JobGraphDescription => ({
    apiVersion: 1,
    name: 'big',
    version: '1',
    nodes: Array.from({ length: n }, (_, i) => ({ id: i, uid: `n${i}`, name: `n${i}`, kind: i === 0 ? 'source' : i === n - 1 ? 'sink' : 'map', parallelism: 1, maxParallelism: 1, chaining: false, keyed: false, inputs: i === 0 ? [] : [{ from: i - 1, partitioning: 'forward' }] })),
  });
  assert.equal(MAX_OPERATORS, 10_000);
  validateGraph(chain(MAX_OPERATORS));
  assert.throws(() => validateGraph(chain(MAX_OPERATORS + 1)), (e: { code?: string; message?: string }) => e.code === 'WEIR_GRAPH_TOO_LARGE' && /the job has 10001 operators; at most 10000/.test(e.message ?? ''));
});
