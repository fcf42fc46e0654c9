import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { contentHash, importJobBundle, JobModuleCache, MemoryArtifactStore } from './artifacts.js';

/** A bundle with no imports, unique per call (the ESM loader caches by URL). */
const bundle = (name: string): Uint8Array =>
  new TextEncoder().encode(`// ${Math.random()}\nexport default { [Symbol.for('weir.job')]: true, name: ${JSON.stringify(name)}, version: '1', config: {}, build() {} };\n`);

test('a truncated bundle in the cache (a crash mid-write) is written again on the next load', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-cache-'));
  try {
    const store = new MemoryArtifactStore();
    const bytes = bundle('repaired');
    const hash = await store.put(bytes);
    writeFileSync(join(dir, `${hash}.mjs`), bytes.subarray(0, Math.floor(bytes.length / 2)));
    const def = await new JobModuleCache(store, dir).load(hash);
    assert.equal(def.name, 'repaired');
    assert.equal(contentHash(readFileSync(join(dir, `${hash}.mjs`))), hash, 'the cache file now has the bundle');
    assert.deepEqual(readdirSync(dir), [`${hash}.mjs`], 'no temporary file left behind');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bundle whose bytes do not match the hash it is given is refused (WEIR_ARTIFACT_CORRUPT)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-cache-'));
  try {
    await assert.rejects(importJobBundle(bundle('x'), dir, '0'.repeat(64)), (e: { code?: string }) => e.code === 'WEIR_ARTIFACT_CORRUPT');
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bundle that throws while it is imported is WEIR_JOB_IMPORT_FAILED naming its source and the cause', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-cache-'));
  try {
    const bytes = new TextEncoder().encode(`// ${Math.random()}\nthrow new Error('boom at import');\n`);
    await assert.rejects(importJobBundle(bytes, dir), (e: { code?: string; message?: string }) => e.code === 'WEIR_JOB_IMPORT_FAILED' && e.message!.startsWith(`job bundle ${contentHash(bytes)} threw while it was imported: boom at import`));
    await assert.rejects(importJobBundle(bytes, dir, undefined, 'job file jobs/x.ts'), (e: { code?: string; message?: string }) => e.code === 'WEIR_JOB_IMPORT_FAILED' && /^job file jobs\/x\.ts threw while it was imported: boom at import/.test(e.message ?? ''));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
