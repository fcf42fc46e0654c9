import { WeirError } from '@weir/sdk';

/** A small client for the coordinator's REST API; REST errors come back as WeirErrors. */
export class RestClient {
  constructor(private readonly base: string) {}

  async request<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.base), {
        method,
        ...(body === undefined ? {} : { body: contentType === 'application/json' ? JSON.stringify(body) : (body as Uint8Array), headers: { 'content-type': contentType } }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (e) {
      throw new WeirError('WEIR_REST_UNREACHABLE', `cannot reach the coordinator at ${this.base} (${(e as Error).message}); is 'weir coordinator' or 'weir cluster up' running? (WEIR_REST_URL)`);
    }
    const json = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
    if (!res.ok) throw new WeirError(json.error?.code ?? 'WEIR_REST_ERROR', json.error?.message ?? `HTTP ${res.status}`);
    return json as T;
  }
}
