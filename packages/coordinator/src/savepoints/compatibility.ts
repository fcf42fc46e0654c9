/**
 * Whether a job can start from a savepoint, decided before anything runs (pure): a refusal names
 * what to fix instead of surfacing as a failed restore after the old job was stopped.
 */
import { SAVEPOINT_FORMAT_VERSION, type SavepointMetadata, type SavepointOperator } from '@weir/runtime';
import { WeirError, type JobGraphDescription } from '@weir/sdk';

/** How the savepoint's state maps onto the new job. */
export interface SavepointMapping {
  /** Uids whose state is restored. */
  readonly restored: readonly string[];
  /** Uids of the savepoint with state that no operator of the new job takes (allowed by the flag). */
  readonly notRestored: readonly string[];
  /** Uids of the new job that start empty. */
  readonly fresh: readonly string[];
  /** Uids restored at another parallelism (key groups and operator state are redistributed). */
  readonly rescaled: readonly string[];
}

const hasState = (op: SavepointOperator): boolean => Object.keys(op.keyGroups).length > 0 || Object.keys(op.operatorState).length > 0;

/**
 * Check `description` against `meta` and return the mapping by uid.
 * @throws WeirError WEIR_SAVEPOINT_FORMAT_UNSUPPORTED, WEIR_SAVEPOINT_NON_RESTORED_STATE,
 * WEIR_SAVEPOINT_MAX_PARALLELISM_CHANGED or WEIR_SAVEPOINT_STATE_TYPE_CHANGED.
 */
export function checkSavepointCompatibility(meta: SavepointMetadata, description: JobGraphDescription, allowNonRestoredState: boolean): SavepointMapping {
  if (meta.formatVersion > SAVEPOINT_FORMAT_VERSION) {
    throw new WeirError('WEIR_SAVEPOINT_FORMAT_UNSUPPORTED', `savepoint ${meta.id} has format version ${meta.formatVersion}; this Weir reads up to ${SAVEPOINT_FORMAT_VERSION}: upgrade Weir`);
  }
  const nodes = new Map(description.nodes.map((n) => [n.uid, n]));
  const notRestored = Object.values(meta.operators).filter((op) => !nodes.has(op.uid) && hasState(op)).map((op) => op.uid);
  if (notRestored.length > 0 && !allowNonRestoredState) {
    throw new WeirError(
      'WEIR_SAVEPOINT_NON_RESTORED_STATE',
      `savepoint ${meta.id} has state for operator(s) ${notRestored.map((u) => `'${u}'`).join(', ')} that job '${description.name}' does not have; give them the same uid, or drop that state with --allow-non-restored-state`,
    );
  }
  const restored: string[] = [];
  const rescaled: string[] = [];
  const fresh: string[] = [];
  for (const n of description.nodes) {
    // Own properties only: uids such as 'constructor' or 'toString' are valid.
    const op = Object.hasOwn(meta.operators, n.uid) ? meta.operators[n.uid] : undefined;
    if (!op) {
      fresh.push(n.uid);
      continue;
    }
    if (op.kind !== n.kind || op.keyed !== n.keyed) {
      throw new WeirError('WEIR_SAVEPOINT_STATE_TYPE_CHANGED', `operator '${n.uid}' was a ${op.keyed ? 'keyed ' : ''}${op.kind} in savepoint ${meta.id} and is a ${n.keyed ? 'keyed ' : ''}${n.kind} now; its state cannot carry over: give the new operator another uid (with --allow-non-restored-state to drop the old state)`);
    }
    if (op.keyed && n.maxParallelism !== op.maxParallelism && Object.keys(op.keyGroups).length > 0) {
      throw new WeirError('WEIR_SAVEPOINT_MAX_PARALLELISM_CHANGED', `operator '${n.uid}' has maxParallelism ${n.maxParallelism} but its state in savepoint ${meta.id} is split into ${op.maxParallelism} key groups; set maxParallelism: ${op.maxParallelism} on it`);
    }
    for (const [name, kind] of Object.entries(n.state ?? {})) {
      const before = op.state && Object.hasOwn(op.state, name) ? op.state[name] : undefined;
      if (before !== undefined && before !== kind) {
        throw new WeirError('WEIR_SAVEPOINT_STATE_TYPE_CHANGED', `state '${name}' of operator '${n.uid}' was a ${before} state in savepoint ${meta.id} and is declared as ${kind} now; rename the state (the old one is then dropped) or keep its kind`);
      }
    }
    restored.push(n.uid);
    if (op.parallelism !== n.parallelism) rescaled.push(n.uid);
  }
  return { restored, notRestored, fresh, rescaled };
}
