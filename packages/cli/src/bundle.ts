import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { WeirError } from '@weir/sdk';

/**
 * Bundle a job module and everything it imports (the SDK included) into one ES module, so a
 * worker needs nothing but the bundle: the same mechanism for every job and every mode.
 */
export async function bundleJob(file: string): Promise<Uint8Array> {
  const entry = resolve(file);
  if (!existsSync(entry)) throw new WeirError('WEIR_JOB_FILE_NOT_FOUND', `job file '${file}' does not exist`);
  try {
    const out = await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      write: false,
      logLevel: 'silent',
      sourcemap: 'inline',
      // CommonJS dependencies bundled into ESM may still call require() for Node built-ins.
      banner: { js: "import { createRequire as __weirCreateRequire } from 'node:module'; const require = __weirCreateRequire(import.meta.url);" },
    });
    return out.outputFiles[0]!.contents;
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number } }[] }).errors ?? [];
    const detail = errors.map((x) => `${x.location ? `${x.location.file}:${x.location.line}: ` : ''}${x.text}`).join('; ');
    throw new WeirError('WEIR_JOB_BUNDLE_FAILED', `could not bundle '${file}': ${detail || (e as Error).message}`);
  }
}
