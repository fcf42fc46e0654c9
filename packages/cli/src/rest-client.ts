import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { WeirError } from '@weir/sdk';

export interface RestClientOptions {
  /** An ordinary request fails if the coordinator has not answered it within this (default 30 s). */
  readonly requestTimeoutMs?: number;
  /**
   * An upload (import) or download (export) has no overall limit, since a large file takes long:
   * it fails only when nothing moves on its connection for this long, including the wait for the
   * answer once a file is sent (default 30 minutes).
   */
  readonly transferIdleTimeoutMs?: number;
}

type ErrorBody = { error?: { code: string; message: string } };

/** A small client for the coordinator's REST API; REST errors come back as WeirErrors. */
export class RestClient {
  private readonly requestTimeoutMs: number;
  private readonly idleTimeoutMs: number;

  constructor(
    private readonly base: string,
    options: RestClientOptions = {},
  ) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.idleTimeoutMs = options.transferIdleTimeoutMs ?? 30 * 60_000;
  }

  async request<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.base), {
        method,
        ...(body === undefined ? {} : { body: contentType === 'application/json' ? JSON.stringify(body) : (body as Uint8Array), headers: { 'content-type': contentType } }),
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
    } catch (e) {
      // The coordinator may be there and slow: that is not the same as one that cannot be reached.
      if ((e as Error).name === 'TimeoutError') throw new WeirError('WEIR_REST_TIMEOUT', `the coordinator at ${this.base} did not answer ${method} ${path} within ${this.requestTimeoutMs / 1000} s; it may still carry it out`);
      throw this.unreachable(e);
    }
    const json = (await res.json().catch(() => ({}))) as ErrorBody;
    if (!res.ok) throw restError(json, res.status);
    return json as T;
  }

  /**
   * POST a file as an application/octet-stream body, streamed from disk (any size, never held
   * whole), and return the JSON answer: `weir savepoint import`.
   */
  async upload<T>(path: string, file: string): Promise<T> {
    const unreadable = (why: string) => new WeirError('WEIR_FILE_UNREADABLE', `cannot read ${file}: ${why}`);
    const st = await stat(file).catch((e: unknown) => Promise.reject(unreadable((e as Error).message)));
    if (!st.isFile()) throw unreadable('it is not a regular file');
    const body = createReadStream(file);
    let fileError: unknown;
    body.on('error', (e) => (fileError = e));
    try {
      const res = await this.exchange('POST', path, { stream: body, size: st.size });
      const json = parseJson(await readAll(res));
      if ((res.statusCode ?? 0) >= 300) throw restError(json, res.statusCode ?? 0);
      return json as T;
    } catch (e) {
      if (fileError !== undefined) throw unreadable((fileError as Error).message);
      throw e;
    } finally {
      body.destroy();
    }
  }

  /**
   * Stream a binary answer into `file` (savepoint export), never holding it whole. The file is
   * written under a temporary name beside it and renamed at the end, so a failed download leaves
   * whatever was at `file` before as it was. Resolves with the bytes written.
   */
  async download(path: string, file: string): Promise<number> {
    const { target, temp } = await reserveBeside(file);
    let bytes = 0;
    try {
      const res = await this.exchange('GET', path);
      if ((res.statusCode ?? 0) >= 300) throw restError(parseJson(await readAll(res).catch(() => Buffer.alloc(0))), res.statusCode ?? 0);
      res.on('data', (c: Buffer) => (bytes += c.length));
      try {
        // flush: the bytes are on disk before the rename puts them in place of the previous file.
        await pipeline(res, createWriteStream(temp, { flush: true }));
      } catch (e) {
        throw new WeirError('WEIR_REST_INTERRUPTED', `the download of ${path} into ${file} broke off after ${bytes} bytes (${(e as Error).message}); ${file} is unchanged`);
      }
      await rename(temp, target);
      return bytes;
    } catch (e) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw e;
    }
  }

  /**
   * One HTTP exchange on node:http (no overall time limit, unlike fetch): resolves with the
   * response once its headers arrive. Fails WEIR_REST_UNREACHABLE if no connection was made,
   * WEIR_REST_TIMEOUT if nothing moved for the idle timeout, WEIR_REST_INTERRUPTED if the
   * connection broke off after it was made. The idle timeout keeps applying to the response body.
   */
  private exchange(method: string, path: string, upload?: { stream: NodeJS.ReadableStream; size: number }): Promise<IncomingMessage> {
    const url = new URL(path, this.base);
    return new Promise((resolvePromise, reject) => {
      let connected = false;
      let sent = 0;
      const what = `${method} ${path}`;
      // One connection per exchange, closed after it: a socket kept alive for reuse held the CLI
      // process open until the coordinator dropped it (72 s) when the answer came before the
      // request had finished sending (an import refused at once).
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
        method,
        agent: false,
        headers: { connection: 'close', ...(upload ? { 'content-type': 'application/octet-stream', 'content-length': upload.size } : {}) },
      });
      req.on('socket', (socket) => {
        if (!socket.connecting) connected = true; // already connected
        else socket.once('connect', () => (connected = true));
      });
      req.setTimeout(this.idleTimeoutMs, () => {
        const progress = upload ? ` (${sent} of ${upload.size} bytes sent)` : '';
        req.destroy(
          connected
            ? new WeirError('WEIR_REST_TIMEOUT', `nothing moved on ${what} to the coordinator at ${this.base} for ${this.idleTimeoutMs / 1000} s${progress}; it may still carry it out`)
            : new WeirError('WEIR_REST_TIMEOUT', `no connection to the coordinator at ${this.base} within ${this.idleTimeoutMs / 1000} s`),
        );
      });
      req.on('error', (e) => {
        if (e instanceof WeirError) return reject(e);
        if (!connected) return reject(this.unreachable(e));
        const progress = upload ? ` after ${sent} of ${upload.size} bytes were sent` : '';
        reject(new WeirError('WEIR_REST_INTERRUPTED', `the connection to the coordinator at ${this.base} broke off during ${what}${progress} (${e.message}); it may or may not have been carried out`));
      });
      req.on('response', (res) => {
        res.on('error', () => undefined); // the caller's pipeline or read reports it
        resolvePromise(res);
      });
      if (!upload) return void req.end();
      upload.stream.on('data', (c: Buffer) => (sent += c.length));
      upload.stream.on('error', (e) => req.destroy(e));
      upload.stream.pipe(req);
    });
  }

  private unreachable(e: unknown): WeirError {
    return new WeirError('WEIR_REST_UNREACHABLE', `cannot reach the coordinator at ${this.base} (${(e as Error).message}); is 'weir coordinator' or 'weir cluster up' running? (WEIR_REST_URL)`);
  }
}

function restError(json: ErrorBody, status: number): WeirError {
  return new WeirError(json.error?.code ?? 'WEIR_REST_ERROR', json.error?.message ?? `HTTP ${status}`);
}

/** A JSON answer, or {} for one that is not JSON (the status then speaks). */
function parseJson(body: Buffer): ErrorBody {
  try {
    return JSON.parse(body.toString('utf8')) as ErrorBody;
  } catch {
    return {};
  }
}

async function readAll(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Checks that `file` can be written before anything is downloaded (not a directory, its directory
 * exists and takes a new file) and creates an empty temporary file beside it, in the same
 * directory so that the final rename is atomic. WEIR_FILE_UNWRITABLE naming the path otherwise.
 */
async function reserveBeside(file: string): Promise<{ target: string; temp: string }> {
  const target = resolve(file);
  const dir = dirname(target);
  const unwritable = (why: string) => new WeirError('WEIR_FILE_UNWRITABLE', `cannot write ${file}: ${why}`);
  const existing = await stat(target).catch(() => undefined);
  if (existing?.isDirectory()) throw unwritable(`it is a directory; give the path of a file, e.g. ${join(file, 'savepoint.weirsp')}`);
  if (existing && !existing.isFile()) throw unwritable('it exists and is not a regular file');
  const parent = await stat(dir).catch(() => undefined);
  if (!parent) throw unwritable(`directory ${dir} does not exist`);
  if (!parent.isDirectory()) throw unwritable(`${dir} is not a directory`);
  const temp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
  try {
    await (await open(temp, 'wx')).close();
    return { target, temp };
  } catch (e) {
    throw unwritable(`cannot create a file in ${dir} (${(e as Error).message})`);
  }
}
