export { checkSavepointCompatibility, type SavepointMapping } from './compatibility.js';
export { MAX_OPERATION_WAIT_MS, Operations, type OperationKind, type OperationStatus, type OperationView } from './operations.js';
export { SavepointCatalog, savepointSummary } from './catalog.js';
export { DEFAULT_COMPACTION_DELAY_MS, SavepointCompactor } from './compactor.js';
export { reportedBytes, savepointReferences } from './detached-acks.js';
export { JobBlobHolds } from './job-blob-holds.js';
export { DEFAULT_ORPHAN_SAVEPOINT_AGE_MS, SavepointHousekeeping } from './housekeeping.js';
