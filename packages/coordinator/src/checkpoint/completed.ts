/**
 * Pure helpers around completed checkpoints: assembling the metadata from subtask acknowledgements,
 * and the shared-state reference counting that decides which blobs dropping checkpoints frees.
 */
import { WeirError } from '@weir/sdk';
import type { CompletedCheckpoint, OperatorSnapshot, SubtaskCheckpointStats, SubtaskSnapshot } from '@weir/runtime';

/** One subtask's acknowledgement, by its index within its task. */
export interface CompletedCheckpointAck {
  readonly subtaskIndex: number;
  readonly snapshot: SubtaskSnapshot;
  readonly stats: SubtaskCheckpointStats;
}

export interface BuildCompletedCheckpointInput {
  readonly jobId: string;
  readonly attempt: number;
  readonly id: number;
  /** Trigger time. */
  readonly timestamp: number;
  readonly completedAt: number;
  /** Every operator of the job by uid. */
  readonly operators: Readonly<Record<string, { readonly maxParallelism: number; readonly parallelism: number }>>;
  readonly acks: readonly CompletedCheckpointAck[];
  /** `${taskHeadUid}/${subtask}` of finished subtasks. */
  readonly finished: readonly string[];
  /** The latest completed checkpoint: source of the state no ack covers (finished subtasks do not ack). */
  readonly previous?: CompletedCheckpoint;
}

/**
 * Assemble a checkpoint's metadata: per operator, the key groups and operator state of all acks.
 * Key groups and operator-state indices no ack covers are carried over from `previous`, except
 * where that cannot be the same state: a different maxParallelism (key groups mean something else)
 * or an operator-state index beyond the current parallelism (after a rescale the running subtasks
 * already hold that state, so carrying it would duplicate it). stateBytes and writtenBytes sum the
 * acks' figures; carried-over state is not counted (its size is not known here).
 * @throws WeirError `WEIR_INTERNAL` if an ack names an unknown operator or two acks claim one key group.
 */
export function buildCompletedCheckpoint(input: BuildCompletedCheckpointInput): CompletedCheckpoint {
  const keyGroups: Record<string, Record<number, readonly string[]>> = {};
  const operatorState: Record<string, Record<number, string>> = {};
  const keyGroupOwner: Record<string, Map<number, number>> = {};
  for (const uid of Object.keys(input.operators)) {
    keyGroups[uid] = {};
    operatorState[uid] = {};
    keyGroupOwner[uid] = new Map();
  }

  for (const ack of input.acks) {
    for (const [uid, snap] of Object.entries(ack.snapshot.operators)) {
      if (!(uid in input.operators)) throw new WeirError('WEIR_INTERNAL', `checkpoint ${input.id}: subtask ${ack.subtaskIndex} acknowledged state of unknown operator '${uid}'`);
      for (const [kg, blobs] of Object.entries(snap.keyGroups)) {
        const group = Number(kg);
        const owner = keyGroupOwner[uid]!.get(group);
        if (owner !== undefined) {
          throw new WeirError('WEIR_INTERNAL', `checkpoint ${input.id}: key group ${group} of operator '${uid}' acknowledged by subtasks ${owner} and ${ack.subtaskIndex}`);
        }
        keyGroupOwner[uid]!.set(group, ack.subtaskIndex);
        keyGroups[uid]![group] = [...blobs];
      }
      if (snap.operatorState !== undefined) operatorState[uid]![ack.subtaskIndex] = snap.operatorState;
    }
  }

  const operators: Record<string, OperatorSnapshot> = {};
  for (const [uid, shape] of Object.entries(input.operators)) {
    const prev = input.previous && Object.hasOwn(input.previous.operators, uid) ? input.previous.operators[uid] : undefined;
    if (prev !== undefined && prev.maxParallelism === shape.maxParallelism) {
      for (const [kg, blobs] of Object.entries(prev.keyGroups)) {
        const group = Number(kg);
        if (!(group in keyGroups[uid]!)) keyGroups[uid]![group] = [...blobs];
      }
      for (const [idx, blob] of Object.entries(prev.operatorState)) {
        const index = Number(idx);
        // An index means another subtask's share at another parallelism (after a rescale): never carried over then.
        if (prev.parallelism === shape.parallelism && !(index in operatorState[uid]!)) operatorState[uid]![index] = blob;
      }
    }
    operators[uid] = { maxParallelism: shape.maxParallelism, parallelism: shape.parallelism, keyGroups: keyGroups[uid]!, operatorState: operatorState[uid]! };
  }

  return {
    formatVersion: 1,
    id: input.id,
    jobId: input.jobId,
    attempt: input.attempt,
    timestamp: input.timestamp,
    completedAt: input.completedAt,
    operators,
    finished: [...input.finished],
    stateBytes: input.acks.reduce((s, a) => s + a.stats.stateBytes, 0),
    writtenBytes: input.acks.reduce((s, a) => s + a.stats.writtenBytes, 0),
  };
}

/** Every blob a checkpoint references. */
function blobsOf(checkpoint: CompletedCheckpoint): string[] {
  return Object.values(checkpoint.operators).flatMap((op) => [...Object.values(op.keyGroups).flat(), ...Object.values(op.operatorState)]);
}

/**
 * Blobs that dropping `dropped` frees: referenced by a dropped checkpoint and by no kept one.
 * Incremental checkpoints share bases and deltas with their successors, so a blob lives as long as
 * any retained checkpoint refers to it. Sorted, unique.
 */
export function unreferencedBlobs(dropped: readonly CompletedCheckpoint[], kept: readonly CompletedCheckpoint[]): string[] {
  const live = new Set(kept.flatMap(blobsOf));
  return [...new Set(dropped.flatMap(blobsOf))].filter((b) => !live.has(b)).sort();
}
