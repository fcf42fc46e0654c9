import type { RestartStrategyConfig } from '@weir/sdk';
import { z } from 'zod';
import { ConfigError } from './errors.js';

const natsUrl = z
  .string()
  .regex(/^(nats|tls|ws|wss):\/\/[^\s,]+(,(nats|tls|ws|wss):\/\/[^\s,]+)*$/, 'must be nats://host:port (several separated by commas)');
const redisUrl = z.string().regex(/^rediss?:\/\/[^\s]+$/, 'must be redis://host:port[/db] (or rediss:// for TLS)');
const restUrl = z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL');
const token = z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, "must be 1-32 letters, digits, '_' or '-'");
const level = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

const schema = z.object({
  WEIR_NATS_URL: natsUrl.default('nats://127.0.0.1:4222'),
  WEIR_REST_URL: restUrl.optional(),
  WEIR_REDIS_URL: redisUrl.default('redis://127.0.0.1:6379'),
  WEIR_CHECKPOINT_DIR: z.string().min(1).default('.weir/checkpoints'),
  WEIR_CLUSTER_ID: token.default('default'),
  WEIR_LOG_LEVEL: level.optional(),
  /** Set by `weir cluster up` for its children: the role stops once that process is gone. */
  WEIR_SUPERVISOR_PID: z.coerce.number().int().min(1).optional(),
});

/** The variable `weir cluster up` sets for the roles it starts. */
export const SUPERVISOR_PID_ENV = 'WEIR_SUPERVISOR_PID';

export type Env = z.infer<typeof schema>;

/** Read and validate the WEIR_* environment; a bad value names the variable and the fix. */
export function readEnv(env: NodeJS.ProcessEnv = process.env): Env {
  const picked = Object.fromEntries(Object.keys(schema.shape).filter((k) => env[k] !== undefined && env[k] !== '').map((k) => [k, env[k]]));
  const r = schema.safeParse(picked);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ConfigError(`${issue.path.join('.')}=${String(picked[issue.path[0] as string])} is invalid: ${issue.message}`);
  }
  return r.data;
}

/** Validate a command-line flag value with a zod schema, naming the flag on failure. */
export function flag<T>(name: string, schemaOf: z.ZodType<T>, value: unknown): T {
  const r = schemaOf.safeParse(value);
  if (!r.success) throw new ConfigError(`--${name} ${String(value)} is invalid: ${r.error.issues[0]!.message}`);
  return r.data;
}

export const positiveInt = (max = 32768) => z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(max, `must be at most ${max}`);
/** Digits only: z.coerce.number() read '' and ' ' as port 0. */
const portDigits = (allowed: string) => z.string().trim().regex(/^\d{1,5}$/, `must be a port number (${allowed})`).transform(Number);
/** A port to listen on; 0 lets the system pick a free one (the coordinator logs it). */
export const port = portDigits('0..65535; 0 picks a free port').pipe(z.number().max(65535, 'must be at most 65535'));
/** A port others must be told: `cluster up` hands it to its coordinator and then polls it, so 0 (a port it cannot know) is refused. */
export const fixedPort = portDigits('1..65535').pipe(z.number().min(1, 'must be 1..65535: cluster up has to know the port its coordinator listens on, so 0 (any free port) cannot be used').max(65535, 'must be at most 65535'));

/**
 * `--restart-strategy`: `none`, `fixed-delay:<attempts>:<delayMs>` or a JSON object; the
 * coordinator validates the fields. JSON that is not an object (null, a number) is refused here:
 * null was quietly taken as "no strategy given".
 */
export function parseRestartStrategy(spec: string): RestartStrategyConfig {
  if (spec === 'none') return { type: 'none' };
  const fixed = /^fixed-delay:(\d+):(\d+)$/.exec(spec);
  if (fixed) return { type: 'fixed-delay', attempts: Number(fixed[1]), delayMs: Number(fixed[2]) };
  let parsed: unknown;
  try {
    parsed = JSON.parse(spec);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`--restart-strategy ${spec} is invalid: use 'none', 'fixed-delay:<attempts>:<delayMs>' or a JSON object such as {"type":"failure-rate","maxFailures":3,"intervalMs":60000,"delayMs":1000}`);
  }
  return parsed as RestartStrategyConfig;
}
export const schemas = { natsUrl, restUrl, redisUrl, token };
