import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './harness.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

test('every error code in the source is documented in docs/errors.md, and nothing else is', () => {
  const used = new Set<string>();
  for (const pkg of readdirSync(join(ROOT, 'packages'))) {
    for (const f of sources(join(ROOT, 'packages', pkg, 'src'))) {
      for (const m of readFileSync(f, 'utf8').matchAll(/'(WEIR_[A-Z_]+[A-Z])'/g)) used.add(m[1]!);
    }
  }
  for (const env of ['WEIR_REST_URL', 'WEIR_NATS_URL', 'WEIR_CLUSTER_ID', 'WEIR_LOG_LEVEL']) used.delete(env);
  const documented = new Set([...readFileSync(join(ROOT, 'docs/errors.md'), 'utf8').matchAll(/^\| `(WEIR_[A-Z_]+)` \|/gm)].map((m) => m[1]!));
  assert.deepEqual([...used].filter((c) => !documented.has(c)).sort(), [], 'codes used but not documented');
  assert.deepEqual([...documented].filter((c) => !used.has(c)).sort(), [], 'codes documented but never raised');
});
