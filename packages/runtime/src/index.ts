/**
 * @weir/runtime — the worker side of Weir: tasks, operator chaining, data channels, keyed state,
 * connectors, and the execution plan shared with the coordinator.
 */
import './nats-patch.js';
export { Worker, type WorkerOptions } from './worker.js';
export { Task, DEFAULT_TASK_OPTIONS, type TaskOptions } from './task/task.js';
export { planExecution, isChainable, receiversOf, sendersOf, type ExecutionPlan, type TaskPlan, type EdgePlan } from './plan.js';
export { keyId, hashKeyId, keyGroupOf, subtaskForKeyGroup, keyGroupRange, type KeyGroupRange } from './keygroups.js';
export { encodeRecords, encodeEnd, decodeFrame, FrameKind, type Frame } from './frames.js';
export type { ChannelFactory, DataPlane, OutputChannel, InputSubscription, Deliver } from './channels/channel.js';
export { InProcessDataPlane } from './channels/in-process.js';
export { JetStreamDataPlane, type JetStreamDataPlaneOptions } from './channels/jetstream.js';
export { MemoryArtifactStore, ObjectStoreArtifacts, JobModuleCache, importJobBundle, contentHash, type ArtifactStore } from './artifacts.js';
export { subjects, assertToken } from './subjects.js';
export { HeapKeyedState } from './state/heap-keyed-state.js';
export * from './protocol.js';
export type { ConnectorContext, SourceReader, SinkWriter } from './connectors/types.js';
export type { SnapshotStore, BlobWrite, CompletedCheckpoint, OperatorSnapshot, OperatorSubtaskSnapshot, SubtaskSnapshot, SubtaskCheckpointStats } from './snapshots/types.js';
export { keyGroupBlob, operatorStateBlob } from './snapshots/names.js';
export { RedisSnapshotStore, type RedisSnapshotStoreOptions } from './snapshots/redis-store.js';
export { FileSnapshotStore } from './snapshots/file-store.js';
export { PubAckPublisher, type PublishOutcome } from './channels/pub-acks.js';
export { commitMarkerStream } from './connectors/jetstream-commits.js';
export { isTransactional, FINAL_TRANSACTION, type TransactionalSinkWriter, type PreCommitted, type SourceFactory, type SinkFactory } from './connectors/types.js';
export { SAVEPOINT_FORMAT_VERSION, type SavepointMetadata, type SavepointOperator, type SavepointReason, type SavepointJobInfo, type SavepointReferences, type SavepointStore } from './snapshots/savepoint-types.js';
export { compactionPlan, type SavepointCompaction } from './snapshots/savepoint-compaction.js';
export { RedisSavepointStore, type RedisSavepointStoreOptions } from './snapshots/redis-savepoint-store.js';
export { FileSavepointStore, type FileSavepointStoreOptions } from './snapshots/file-savepoint-store.js';
export { encodeExport, decodeExport, EXPORT_MAGIC, type SavepointExport } from './snapshots/export-format.js';
export { mergeChain } from './snapshots/chain-merge.js';
export { newSavepointId, isSavepointId, assertSavepointId, savepointKeyGroupBlob, savepointKeyGroupParts, savepointOperatorStateBlob, savepointBlobNames, possibleSavepointNames, MAX_SAVEPOINT_PARTS } from './snapshots/savepoint-names.js';
export { inspectSavepoint, type InspectBlobReader, type InspectOptions, type SavepointInspection } from './snapshots/inspect.js';
export { crashPoint, delayPoint, failPoint } from './faults.js';
export { packAckNames, unpackAckNames } from './snapshots/ack-names.js';
