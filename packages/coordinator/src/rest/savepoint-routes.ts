/**
 * REST routes of savepoints, stops and rescales (shaped after Flink's): the long-running ones are
 * asynchronous operations that answer 202 with a request id, polled with GET.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Coordinator } from '../coordinator.js';
import { MAX_OPERATION_WAIT_MS } from '../savepoints/index.js';
import { DESCRIPTION_BODY_LIMIT, descriptionSchema } from './schemas.js';

const jobId = { type: 'string', pattern: '^[0-9a-f]{16}$' } as const;
const requestId = { type: 'string', pattern: '^[0-9a-f]{16}$' } as const;
const savepointId = { type: 'string', pattern: '^sp-[0-9a-f]{16}$' } as const;
const jobParams = { type: 'object', required: ['id'], properties: { id: jobId } } as const;
const jobRequestParams = { type: 'object', required: ['id', 'requestId'], properties: { id: jobId, requestId } } as const;
const savepointParams = { type: 'object', required: ['savepointId'], properties: { savepointId } } as const;
const emptyBody = { type: 'object', additionalProperties: false, properties: {} } as const;
/** Export files hold a whole state: allow far more than the JSON body limit. */
const IMPORT_LIMIT = 4 * 1024 * 1024 * 1024 - 1;

type P<T> = { Params: T };
/** `?waitMs=N` on an operation's GET: answer when it ends, or after N ms (long polling). */
const waitQuery = { type: 'object', additionalProperties: false, properties: { waitMs: { type: 'integer', minimum: 0, maximum: MAX_OPERATION_WAIT_MS } } } as const;
type W = { Querystring: { waitMs?: number } };

export function savepointRoutes(app: FastifyInstance, coordinator: Coordinator): void {
  app.post<P<{ id: string }>>('/jobs/:id/savepoints', { schema: { params: jobParams, body: { ...emptyBody, nullable: true } } }, async (req, reply) => {
    const op = coordinator.control.savepoint(req.params.id);
    return reply.status(202).send({ requestId: op.requestId });
  });
  app.get<P<{ id: string; requestId: string }> & W>('/jobs/:id/savepoints/:requestId', { schema: { params: jobRequestParams, querystring: waitQuery } }, async (req) =>
    coordinator.operations.wait(req.params.requestId, ['savepoint', 'stop'], req.params.id, req.query.waitMs ?? 0),
  );
  app.post<P<{ id: string }> & { Body: { savepoint?: boolean; drain?: boolean } | undefined }>(
    '/jobs/:id/stop',
    { schema: { params: jobParams, body: { type: 'object', nullable: true, additionalProperties: false, properties: { savepoint: { type: 'boolean' }, drain: { type: 'boolean' } } } } },
    async (req, reply) => {
      const op = coordinator.control.stop(req.params.id, { savepoint: req.body?.savepoint ?? true, drain: req.body?.drain ?? false });
      return reply.status(202).send({ requestId: op.requestId });
    },
  );
  app.post<P<{ id: string }> & { Body: { parallelism: number } }>(
    '/jobs/:id/rescaling',
    { schema: { params: jobParams, body: { type: 'object', required: ['parallelism'], additionalProperties: false, properties: { parallelism: { type: 'integer', minimum: 1, maximum: 32768 } } } } },
    async (req, reply) => {
      const op = coordinator.control.rescale(req.params.id, req.body.parallelism);
      return reply.status(202).send({ requestId: op.requestId });
    },
  );
  app.get<P<{ id: string; requestId: string }> & W>('/jobs/:id/rescaling/:requestId', { schema: { params: jobRequestParams, querystring: waitQuery } }, async (req) =>
    coordinator.operations.wait(req.params.requestId, 'rescale', req.params.id, req.query.waitMs ?? 0),
  );

  app.get<{ Querystring: { job?: string } }>('/savepoints', { schema: { querystring: { type: 'object', additionalProperties: false, properties: { job: { type: 'string', minLength: 1 } } } } }, async (req) => ({
    savepoints: await coordinator.savepoints.list(req.query.job),
  }));
  app.post('/savepoints/import', { bodyLimit: IMPORT_LIMIT }, async (req, reply) => {
    const body = req.body;
    if (!Buffer.isBuffer(body) || body.length === 0) {
      return reply.status(400).send({ error: { code: 'WEIR_REST_INVALID_BODY', message: 'POST /savepoints/import takes an export file as an application/octet-stream body' } });
    }
    return reply.status(201).send(await coordinator.savepoints.importFile(new Uint8Array(body.buffer, body.byteOffset, body.byteLength)));
  });
  app.get<P<{ savepointId: string }>>('/savepoints/:savepointId', { schema: { params: savepointParams } }, async (req) => {
    const meta = await coordinator.savepoints.get(req.params.savepointId);
    return { ...meta, location: coordinator.savepoints.store.location(meta.id) };
  });
  app.post<P<{ savepointId: string }> & { Body: { description: Parameters<Coordinator['savepoints']['check']>[1]; allowNonRestoredState?: boolean } }>(
    '/savepoints/:savepointId/check',
    { schema: { params: savepointParams, body: { type: 'object', required: ['description'], additionalProperties: false, properties: { description: descriptionSchema, allowNonRestoredState: { type: 'boolean' } } } }, bodyLimit: DESCRIPTION_BODY_LIMIT },
    async (req) => coordinator.savepoints.check(req.params.savepointId, req.body.description, req.body.allowNonRestoredState === true),
  );
  app.get<P<{ savepointId: string }> & { Querystring: { operator?: string; state?: string; limit?: number; count?: boolean } }>(
    '/savepoints/:savepointId/inspect',
    {
      schema: {
        params: savepointParams,
        querystring: { type: 'object', additionalProperties: false, properties: { operator: { type: 'string', minLength: 1 }, state: { type: 'string', minLength: 1 }, limit: { type: 'integer', minimum: 1, maximum: 100_000 }, count: { type: 'boolean' } } },
      },
    },
    async (req) => coordinator.savepoints.inspect(req.params.savepointId, { ...req.query }),
  );
  app.get<P<{ savepointId: string }>>('/savepoints/:savepointId/export', { schema: { params: savepointParams } }, async (req, reply) => {
    // Streamed: a large savepoint is never held in memory whole, and bytes flow at once.
    const pieces = await coordinator.savepoints.exportStream(req.params.savepointId);
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-disposition', `attachment; filename="${req.params.savepointId}.weirsp"`)
      .send(Readable.from(pieces));
  });
  app.delete<P<{ savepointId: string }>>('/savepoints/:savepointId', { schema: { params: savepointParams } }, async (req, reply) => {
    await coordinator.savepoints.get(req.params.savepointId); // unknown ids fail now, not in the operation
    const op = coordinator.savepoints.dispose(req.params.savepointId);
    return reply.status(202).send({ requestId: op.requestId });
  });
  app.get<P<{ requestId: string }> & W>('/savepoints/disposal/:requestId', { schema: { params: { type: 'object', required: ['requestId'], properties: { requestId } }, querystring: waitQuery } }, async (req) =>
    coordinator.operations.wait(req.params.requestId, 'dispose', undefined, req.query.waitMs ?? 0),
  );
}
