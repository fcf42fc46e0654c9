/** Checkpoint coordination without I/O: config validation, restart strategies, the coordinator core, metadata helpers. */
export { resolveCheckpointConfig, resolveRestartStrategy } from './config.js';
export { createRestartStrategy, type RestartStrategy, type RestartDecision } from './restart-strategy.js';
export {
  CheckpointCoordinatorCore,
  type CheckpointCommand,
  type CheckpointCoordinatorCoreOptions,
  type TriggerResult,
  type AckResult,
  type AckResultKind,
  type SubtaskAck,
  type CheckpointFailureReason,
} from './core.js';
export { HISTORY_SIZE, type CheckpointStatsView, type CheckpointStatsEntry, type SubtaskCheckpointStatsView, type CheckpointStatus } from './stats.js';
export { buildCompletedCheckpoint, unreferencedBlobs, type BuildCompletedCheckpointInput, type CompletedCheckpointAck } from './completed.js';
export { BlobPins } from './blob-pins.js';
