/**
 * Validation of the per-job checkpoint and restart configuration. A job's `defineJob` config and
 * submission overrides arrive as untrusted JSON; this turns them into complete, checked configs or
 * one error that names every bad field and what it allows.
 */
import { z } from 'zod';
import { DEFAULT_CHECKPOINT_CONFIG, DEFAULT_RESTART_STRATEGY, WeirError, type CheckpointConfig, type RestartStrategyConfig } from '@weir/sdk';

/** A whole number in `min..max`; every failure gets the same message so the error says what is allowed. */
function int(min: number, max = Number.MAX_SAFE_INTEGER): z.ZodNumber {
  const allowed = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in ${min}..${max}`;
  return z.number({ error: `must be ${allowed}` }).int({ error: `must be ${allowed}` }).min(min, { error: `must be ${allowed}` }).max(max, { error: `must be ${allowed}` });
}

/** A restart count: a whole number >= 0 or Infinity (no limit). z.number() refuses Infinity, hence the custom check. */
const attempts = z.custom<number>((v) => v === Infinity || (Number.isSafeInteger(v) && (v as number) >= 0), { error: 'must be an integer >= 0 or Infinity (no limit)' });

const checkpointSchema = z.strictObject({
  // Below 10 ms a checkpoint would be triggered before the previous barrier could travel anywhere.
  intervalMs: int(0).refine((v) => v === 0 || v >= 10, { error: 'must be 0 (periodic checkpoints off) or an integer >= 10' }).optional(),
  timeoutMs: int(10).optional(),
  minPauseMs: int(0).optional(),
  maxConcurrent: int(1, 16).optional(),
  tolerableFailures: int(0).optional(),
  retained: int(1, 100).optional(),
  mode: z.enum(['exactly-once', 'at-least-once'], { error: "must be 'exactly-once' or 'at-least-once'" }).optional(),
  maxDeltaChain: int(0, 1000).optional(),
});

const restartSchemas = {
  none: z.strictObject({ type: z.literal('none') }),
  'fixed-delay': z.strictObject({ type: z.literal('fixed-delay'), attempts, delayMs: int(0) }),
  'exponential-delay': z
    .strictObject({
      type: z.literal('exponential-delay'),
      initialDelayMs: int(0).optional(),
      maxDelayMs: int(0).optional(),
      multiplier: z.number({ error: 'must be a number >= 1' }).min(1, { error: 'must be a number >= 1' }).optional(),
      resetAfterMs: int(0).optional(),
      // JSON cannot carry Infinity, so a missing attempts means no limit.
      attempts: attempts.optional(),
    }),
  'failure-rate': z.strictObject({ type: z.literal('failure-rate'), maxFailures: int(1), intervalMs: int(1), delayMs: int(0) }),
} as const;

type RestartType = keyof typeof restartSchemas;

/** Turn zod issues into `field must be ... (got ...)` phrases, one per field. */
function describeIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push(`unknown field '${key}'`);
      continue;
    }
    const field = issue.path.map(String).join('.');
    if (seen.has(field)) continue;
    seen.add(field);
    const got = typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[field] : undefined;
    out.push(got === undefined ? `${field} is required and ${issue.message}` : `${field} ${issue.message} (got ${show(got)})`);
  }
  return out;
}

/** JSON.stringify would print NaN and Infinity as null. */
function show(value: unknown): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

function isPlainObject(input: unknown): input is Record<string, unknown> {
  return typeof input === 'object' && input !== null && !Array.isArray(input);
}

/**
 * Validate a partial checkpoint config and fill in {@link DEFAULT_CHECKPOINT_CONFIG}.
 * `undefined` means all defaults.
 * @throws WeirError `WEIR_CHECKPOINT_CONFIG_INVALID` naming each bad or unknown field and what it allows.
 */
export function resolveCheckpointConfig(input: unknown): CheckpointConfig {
  if (input === undefined) return { ...DEFAULT_CHECKPOINT_CONFIG };
  if (!isPlainObject(input)) throw new WeirError('WEIR_CHECKPOINT_CONFIG_INVALID', 'invalid checkpoint config: must be an object');
  const r = checkpointSchema.safeParse(input);
  if (!r.success) {
    const allowed = Object.keys(checkpointSchema.shape).join(', ');
    const problems = describeIssues(r.error.issues, input);
    const hint = r.error.issues.some((i) => i.code === 'unrecognized_keys') ? ` (known fields: ${allowed})` : '';
    throw new WeirError('WEIR_CHECKPOINT_CONFIG_INVALID', `invalid checkpoint config: ${problems.join('; ')}${hint}`);
  }
  const defined = Object.fromEntries(Object.entries(r.data).filter(([, v]) => v !== undefined));
  return { ...DEFAULT_CHECKPOINT_CONFIG, ...defined };
}

/**
 * Validate a restart strategy. `undefined` means {@link DEFAULT_RESTART_STRATEGY}. For
 * `exponential-delay` every field but `type` is optional and defaults to the default strategy's
 * (a missing `attempts` is Infinity); the other types need all their fields.
 * @throws WeirError `WEIR_RESTART_STRATEGY_INVALID` naming each bad field and what it allows.
 */
export function resolveRestartStrategy(input: unknown): RestartStrategyConfig {
  if (input === undefined) return { ...DEFAULT_RESTART_STRATEGY };
  const fail = (problem: string) => new WeirError('WEIR_RESTART_STRATEGY_INVALID', `invalid restart strategy: ${problem}`);
  if (!isPlainObject(input)) throw fail('must be an object with a type');
  const types = Object.keys(restartSchemas) as RestartType[];
  const type = input['type'];
  if (typeof type !== 'string' || !(types as string[]).includes(type)) {
    throw fail(`type must be one of ${types.map((t) => `'${t}'`).join(', ')} (got ${show(type)})`);
  }
  const schema = restartSchemas[type as RestartType];
  const r = schema.safeParse(input);
  if (!r.success) throw fail(`${describeIssues(r.error.issues, input).join('; ')} (type '${type}' has fields: ${Object.keys(schema.shape).join(', ')})`);
  const data = r.data;
  if (data.type !== 'exponential-delay') return data;
  if (DEFAULT_RESTART_STRATEGY.type !== 'exponential-delay') throw new Error('unreachable: the default restart strategy is exponential-delay');
  const defined = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined));
  const resolved = { ...DEFAULT_RESTART_STRATEGY, attempts: Infinity, ...defined, type: 'exponential-delay' as const };
  if (resolved.maxDelayMs < resolved.initialDelayMs) {
    throw fail(`maxDelayMs must be >= initialDelayMs (got maxDelayMs ${resolved.maxDelayMs}, initialDelayMs ${resolved.initialDelayMs})`);
  }
  return resolved;
}
