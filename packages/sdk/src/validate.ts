import { GraphValidationError } from './errors.js';
import { MAX_MAX_PARALLELISM, MAX_OPERATORS, type JobGraphDescription } from './graph.js';

const UID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const KINDS = new Set(['source', 'map', 'filter', 'flatMap', 'actor', 'sink']);
const PARTITIONINGS = new Set(['forward', 'rebalance', 'hash', 'broadcast']);

function fail(code: string, message: string): never {
  throw new GraphValidationError(code, message);
}

/** A description not shaped like one `buildJob` makes (by hand, or by another tool): wrong types, missing fields. */
function malformed(message: string): never {
  fail('WEIR_GRAPH_MALFORMED', `${message}; the graph description must have the shape 'weir run' builds (see OperatorDescription in @weir/sdk)`);
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const shown = (x: unknown): string => (x === undefined ? 'nothing' : typeof x === 'string' ? `'${x}'` : JSON.stringify(x) ?? String(x));

/** `config` is checked field by field by the coordinator; here only that its parts are objects. */
function checkConfig(config: unknown): void {
  if (config === undefined) return;
  if (!isObject(config)) malformed(`the job config must be an object, got ${shown(config)}`);
  for (const part of ['checkpoints', 'restartStrategy'] as const) {
    if (config[part] !== undefined && !isObject(config[part])) malformed(`config.${part} must be an object, got ${shown(config[part])}`);
  }
}

/** The field types the checks below (and planning) rely on: they would throw TypeErrors on anything else. */
function checkShape(n: unknown, index: number): asserts n is JobGraphDescription['nodes'][number] {
  if (!isObject(n)) malformed(`the operator at position ${index} must be an object, got ${shown(n)}`);
  const where = `operator ${typeof n.uid === 'string' ? `'${n.uid}'` : `at position ${index}`}`;
  if (typeof n.name !== 'string') malformed(`${where}: name must be a string, got ${shown(n.name)}`);
  for (const flag of ['chaining', 'keyed'] as const) {
    if (typeof n[flag] !== 'boolean') malformed(`${where}: ${flag} must be true or false, got ${shown(n[flag])}`);
  }
  for (const flag of ['bounded', 'timers'] as const) {
    if (n[flag] !== undefined && typeof n[flag] !== 'boolean') malformed(`${where}: ${flag} must be true or false, got ${shown(n[flag])}`);
  }
  if (n.connector !== undefined && typeof n.connector !== 'string') malformed(`${where}: connector must be a string, got ${shown(n.connector)}`);
  if (n.state !== undefined && !(isObject(n.state) && Object.values(n.state).every((k) => typeof k === 'string'))) {
    malformed(`${where}: state must map state names to kinds ('value', 'list', 'map'), got ${shown(n.state)}`);
  }
  if (!Array.isArray(n.inputs)) malformed(`${where}: inputs must be an array of { from, partitioning } (empty for a source), got ${shown(n.inputs)}`);
  n.inputs.forEach((e: unknown, i: number) => {
    if (!isObject(e)) malformed(`${where}: input ${i} must be an object { from, partitioning }, got ${shown(e)}`);
  });
}

/**
 * Check a job graph description. Runs in the client, in the coordinator (for graphs that arrive
 * over REST) and in workers, so a bad graph is refused before anything is deployed.
 */
export function validateGraph(g: JobGraphDescription): void {
  if (!isObject(g)) malformed(`the graph description must be an object, got ${shown(g)}`);
  if (g.apiVersion !== 1) fail('WEIR_GRAPH_UNSUPPORTED_VERSION', `graph apiVersion ${String(g.apiVersion)} is not supported; this Weir reads apiVersion 1`);
  if (typeof g.name !== 'string' || !UID.test(g.name)) fail('WEIR_GRAPH_INVALID_NAME', `job name '${String(g.name)}' must be 1-100 characters of letters, digits, '_', '.' or '-'`);
  if (typeof g.version !== 'string') malformed(`the job version must be a string, got ${shown(g.version)}`);
  checkConfig(g.config);
  if (!Array.isArray(g.nodes) || g.nodes.length === 0) fail('WEIR_GRAPH_EMPTY', 'the job defines no operators: start with env.source(...)');
  if (g.nodes.length > MAX_OPERATORS) {
    fail('WEIR_GRAPH_TOO_LARGE', `the job has ${g.nodes.length} operators; at most ${MAX_OPERATORS} are allowed: fold steps into fewer operators (one map can do the work of many)`);
  }
  const uids = new Map<string, number>();
  g.nodes.forEach((n, index) => {
    checkShape(n, index);
    if (n.id !== index) fail('WEIR_GRAPH_INVALID_EDGE', `operator ids must be 0..n-1 in order; found id ${n.id} at position ${index}`);
    const where = `operator '${n.uid}'`;
    if (!KINDS.has(n.kind)) fail('WEIR_GRAPH_UNKNOWN_OPERATOR', `${where} has unknown kind '${n.kind}'`);
    if (typeof n.uid !== 'string' || !UID.test(n.uid)) fail('WEIR_GRAPH_INVALID_UID', `uid '${String(n.uid)}' must be 1-100 characters of letters, digits, '_', '.' or '-', starting with a letter or digit`);
    const dup = uids.get(n.uid);
    if (dup !== undefined) fail('WEIR_GRAPH_DUPLICATE_UID', `uid '${n.uid}' is used by operators ${dup} and ${n.id}; give each operator its own uid`);
    uids.set(n.uid, n.id);
    if (!Number.isInteger(n.maxParallelism) || n.maxParallelism < 1 || n.maxParallelism > MAX_MAX_PARALLELISM) {
      fail('WEIR_GRAPH_INVALID_MAX_PARALLELISM', `${where}: maxParallelism must be an integer from 1 to ${MAX_MAX_PARALLELISM}, got ${String(n.maxParallelism)}`);
    }
    if (!Number.isInteger(n.parallelism) || n.parallelism < 1 || n.parallelism > n.maxParallelism) {
      fail('WEIR_GRAPH_INVALID_PARALLELISM', `${where}: parallelism must be an integer from 1 to its maxParallelism (${n.maxParallelism}), got ${String(n.parallelism)}`);
    }
    if (n.kind === 'source') {
      if (n.inputs.length > 0) fail('WEIR_GRAPH_INVALID_EDGE', `${where}: a source has no inputs`);
    } else if (n.inputs.length === 0) {
      fail('WEIR_GRAPH_INVALID_EDGE', `${where} has no input`);
    }
    for (const e of n.inputs) {
      if (!Number.isInteger(e.from) || e.from < 0 || e.from >= n.id) fail('WEIR_GRAPH_INVALID_EDGE', `${where} reads from operator ${String(e.from)}, which does not come before it (graphs are acyclic)`);
      if (!PARTITIONINGS.has(e.partitioning)) fail('WEIR_GRAPH_INVALID_EDGE', `${where}: unknown partitioning '${String(e.partitioning)}'`);
      const up = g.nodes[e.from]!;
      if (up.kind === 'sink') fail('WEIR_GRAPH_INVALID_EDGE', `${where} reads from sink '${up.uid}'; sinks have no output`);
      if (e.partitioning === 'forward' && up.parallelism !== n.parallelism) {
        fail('WEIR_GRAPH_FORWARD_PARALLELISM', `${where} (parallelism ${n.parallelism}) has a forward input from '${up.uid}' (parallelism ${up.parallelism}); forward needs equal parallelism: use rebalance() or set the same parallelism`);
      }
    }
    const hashed = n.inputs.some((e: { partitioning: string }) => e.partitioning === 'hash');
    if (n.keyed && !n.inputs.every((e: { partitioning: string }) => e.partitioning === 'hash')) {
      fail('WEIR_GRAPH_KEYED_WITHOUT_KEYBY', `${where} uses keyed state but its input is not keyed: call keyBy(...) before it`);
    }
    if (hashed && !n.keyed) fail('WEIR_GRAPH_INVALID_EDGE', `${where} has a keyed input but is not a keyed operator`);
    if (n.timers && !n.keyed) fail('WEIR_GRAPH_KEYED_WITHOUT_KEYBY', `${where} has onTimer, and timers are per key: call keyBy(...) before it`);
  });
  if (!g.nodes.some((n) => n.kind === 'sink')) fail('WEIR_GRAPH_NO_SINK', 'the job has no sink: end the pipeline with .sink(...)');
}
