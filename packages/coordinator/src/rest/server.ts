import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from 'pino';
import type { Coordinator } from '../coordinator.js';
import { statusFor } from './errors.js';
import { savepointRoutes } from './savepoint-routes.js';
import { descriptionSchema } from './schemas.js';

const submitSchema = {
  type: 'object',
  required: ['artifact', 'description'],
  additionalProperties: false,
  properties: {
    artifact: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    args: { type: 'object', additionalProperties: { type: 'string' } },
    parallelism: { type: 'integer', minimum: 1, maximum: 32768 },
    checkpoints: { type: 'object' },
    restartStrategy: { type: 'object' },
    fromSavepoint: { type: 'string', pattern: '^sp-[0-9a-f]{16}$' },
    allowNonRestoredState: { type: 'boolean' },
    description: descriptionSchema,
  },
} as const;

const jobIdParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9a-f]{16}$' } } } as const;

/**
 * The coordinator's REST API (shaped after Flink's). Every error is JSON
 * `{ error: { code, message } }` with a stable code; bodies are validated by JSON schema.
 */
export function createRestServer(coordinator: Coordinator, log: Logger): FastifyInstance {
  // Unknown body fields are refused, not silently dropped (Fastify's default): a typo such as
  // {"drian": true} must not quietly do something else.
  const app = Fastify({ loggerInstance: log.child({ component: "rest" }) as unknown as FastifyBaseLogger, bodyLimit: 64 * 1024 * 1024, ajv: { customOptions: { removeAdditional: false } } });
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { code?: string; validation?: unknown; statusCode?: number }, _req, reply) => {
    if (err.validation) return reply.status(400).send({ error: { code: 'WEIR_REST_INVALID_BODY', message: `invalid request: ${err.message}` } });
    if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) {
      return reply.status(400).send({ error: { code: 'WEIR_REST_MALFORMED_JSON', message: `the body is not valid JSON: ${err.message}` } });
    }
    if (err.code?.startsWith('FST_')) return reply.status(err.statusCode ?? 400).send({ error: { code: 'WEIR_REST_BAD_REQUEST', message: err.message } });
    const code = typeof err.code === 'string' && err.code.startsWith('WEIR_') ? err.code : 'WEIR_INTERNAL';
    const status = statusFor(code);
    if (status >= 500) log.error({ err }, 'request failed');
    return reply.status(status).send({ error: { code, message: err.message } });
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ error: { code: 'WEIR_REST_NOT_FOUND', message: `no route ${req.method} ${req.url}` } }));

  app.get('/overview', async () => coordinator.overview());
  app.get('/workers', async () => ({ workers: coordinator.listWorkers() }));
  app.get('/jobs', async () => ({ jobs: coordinator.listJobs() }));
  app.get('/jobs/:id', { schema: { params: jobIdParams } }, async (req) => coordinator.view((req.params as { id: string }).id));
  app.get('/jobs/:id/checkpoints', { schema: { params: jobIdParams } }, async (req) => coordinator.checkpointStats((req.params as { id: string }).id));
  app.get('/jobs/:id/checkpoints/config', { schema: { params: jobIdParams } }, async (req) => coordinator.checkpointConfig((req.params as { id: string }).id));
  app.get('/jobs/:id/exceptions', { schema: { params: jobIdParams } }, async (req) => coordinator.exceptions((req.params as { id: string }).id));
  app.post('/artifacts', async (req, reply) => {
    const body = req.body;
    if (!Buffer.isBuffer(body) || body.length === 0) {
      return reply.status(400).send({ error: { code: 'WEIR_REST_INVALID_BODY', message: 'POST /artifacts takes the job bundle as an application/octet-stream body' } });
    }
    return reply.status(201).send({ artifact: await coordinator.putArtifact(new Uint8Array(body)) });
  });
  app.post('/jobs', { schema: { body: submitSchema } }, async (req, reply) => {
    const job = await coordinator.submit(req.body as Parameters<Coordinator['submit']>[0]);
    return reply.status(202).send({ jobId: job.id, state: job.status });
  });
  savepointRoutes(app, coordinator);
  app.post('/jobs/:id/cancel', { schema: { params: jobIdParams } }, async (req, reply) => {
    const job = await coordinator.cancel((req.params as { id: string }).id);
    return reply.status(202).send({ jobId: job.id, state: job.status });
  });
  return app;
}
