import pino, { type Logger } from 'pino';

/** JSON logs to stderr (stdout stays for job output such as the print sink). */
export function createLogger(level: string, base: Record<string, unknown>): Logger {
  return pino({ level, base: { pid: process.pid, ...base } }, pino.destination(2));
}
