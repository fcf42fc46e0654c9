import { GraphValidationError } from './errors.js';
import { MAX_MAX_PARALLELISM, type JobGraphDescription } from './graph.js';

const UID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const KINDS = new Set(['source', 'map', 'filter', 'flatMap', 'actor', 'sink']);
const PARTITIONINGS = new Set(['forward', 'rebalance', 'hash', 'broadcast']);

function fail(code: string, message: string): never {
  throw new GraphValidationError(code, message);
}

/**
 * Check a job graph description. Runs in the client, in the coordinator (for graphs that arrive
 * over REST) and in workers, so a bad graph is refused before anything is deployed.
 */
export function validateGraph(g: JobGraphDescription): void {
  if (g.apiVersion !== 1) fail('WEIR_GRAPH_UNSUPPORTED_VERSION', `graph apiVersion ${String(g.apiVersion)} is not supported; this Weir reads apiVersion 1`);
  if (typeof g.name !== 'string' || !UID.test(g.name)) fail('WEIR_GRAPH_INVALID_NAME', `job name '${String(g.name)}' must be 1-100 characters of letters, digits, '_', '.' or '-'`);
  if (!Array.isArray(g.nodes) || g.nodes.length === 0) fail('WEIR_GRAPH_EMPTY', 'the job defines no operators: start with env.source(...)');
  const uids = new Map<string, number>();
  g.nodes.forEach((n, index) => {
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
