import { WeirError } from '@weir/sdk';

/** A configuration value (flag or environment variable) is invalid. */
export class ConfigError extends WeirError {
  constructor(message: string) {
    super('WEIR_CONFIG_INVALID', message);
  }
}

/** Print an error the way every command does: code and message, no stack for expected errors. */
export function formatError(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown };
  if (typeof err?.code === 'string' && err.code.startsWith('WEIR_')) return `error ${err.code}: ${String(err.message)}`;
  return `error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
}
