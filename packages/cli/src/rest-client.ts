import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { WeirError } from '@weir/sdk';

/** A small client for the coordinator's REST API; REST errors come back as WeirErrors. */
export class RestClient {
  constructor(private readonly base: string) {}

  async request<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const res = await this.send(method, path, body, contentType, 30_000);
    const json = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
    if (!res.ok) throw new WeirError(json.error?.code ?? 'WEIR_REST_ERROR', json.error?.message ?? `HTTP ${res.status}`);
    return json as T;
  }

  /** Stream a binary answer into a file (savepoint export), never holding it whole. */
  async download(path: string, file: string): Promise<number> {
    const res = await this.send('GET', path, undefined, '', 3_600_000);
    if (!res.ok || !res.body) {
      const json = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
      throw new WeirError(json.error?.code ?? 'WEIR_REST_ERROR', json.error?.message ?? `HTTP ${res.status}`);
    }
    let bytes = 0;
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>).on('data', (c: Uint8Array) => (bytes += c.length));
    try {
      await pipeline(body, createWriteStream(file));
    } catch (e) {
      // A cut-off download must not look like an export file.
      await rm(file, { force: true });
      throw new WeirError('WEIR_REST_UNREACHABLE', `the download of ${path} into ${file} broke off after ${bytes} bytes: ${(e as Error).message}`);
    }
    return bytes;
  }

  private async send(method: string, path: string, body: unknown, contentType: string, timeoutMs: number): Promise<Response> {
    try {
      return await fetch(new URL(path, this.base), {
        method,
        ...(body === undefined ? {} : { body: contentType === 'application/json' ? JSON.stringify(body) : (body as Uint8Array), headers: { 'content-type': contentType } }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw new WeirError('WEIR_REST_UNREACHABLE', `cannot reach the coordinator at ${this.base} (${(e as Error).message}); is 'weir coordinator' or 'weir cluster up' running? (WEIR_REST_URL)`);
    }
  }
}
