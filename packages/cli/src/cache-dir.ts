import { fileURLToPath } from 'node:url';

/** Job bundles are written here before import; inside the install so bare imports resolve. */
export const JOB_CACHE_DIR = fileURLToPath(new URL('../.cache/jobs', import.meta.url));
