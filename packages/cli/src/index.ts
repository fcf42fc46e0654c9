/** @weir/cli — the `weir` command's building blocks (the entry point is main.ts). */
export { bundleJob } from './bundle.js';
export { JOB_CACHE_DIR } from './cache-dir.js';
export { readEnv, type Env } from './config.js';
export { startCoordinator } from './coordinator-role.js';
export { startWorker } from './worker-role.js';
export { startEmbedded } from './embedded.js';
export type { ClusterConfig, Running } from './roles.js';
export { RestClient } from './rest-client.js';
export { ConfigError, formatError } from './errors.js';
export { connectNats, connectorConnections } from './nats.js';
