/**
 * The JSON schema of a graph description in REST bodies: the field types `validateGraph` and the
 * planner rely on, so a malformed description is a 400 with the path of the bad field instead of
 * a TypeError (500) or a job accepted with a string where a boolean belongs. The graph rules
 * themselves (edges, parallelism, keyed inputs) stay with validateGraph, for the typed codes.
 */
export const descriptionSchema = {
  type: 'object',
  required: ['apiVersion', 'name', 'version', 'nodes'],
  properties: {
    apiVersion: { type: 'integer' },
    name: { type: 'string' },
    version: { type: 'string' },
    nodes: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['id', 'uid', 'name', 'kind', 'parallelism', 'maxParallelism', 'chaining', 'keyed', 'inputs'],
        properties: {
          id: { type: 'integer' },
          uid: { type: 'string' },
          name: { type: 'string' },
          kind: { type: 'string' },
          parallelism: { type: 'integer' },
          maxParallelism: { type: 'integer' },
          chaining: { type: 'boolean' },
          keyed: { type: 'boolean' },
          inputs: {
            type: 'array',
            items: { type: 'object', required: ['from', 'partitioning'], properties: { from: { type: 'integer' }, partitioning: { type: 'string' } } },
          },
          connector: { type: 'string' },
          bounded: { type: 'boolean' },
          state: { type: 'object', additionalProperties: { type: 'string' } },
          timers: { type: 'boolean' },
        },
      },
    },
    config: { type: 'object', properties: { checkpoints: { type: 'object' }, restartStrategy: { type: 'object' } } },
  },
} as const;

/**
 * Body limit of routes that take a graph description: MAX_OPERATORS operators make about 2 MiB of
 * JSON, so 16 MiB leaves room and a bigger body is refused before it is parsed (the server's
 * default, 64 MiB, is for job bundles).
 */
export const DESCRIPTION_BODY_LIMIT = 16 * 1024 * 1024;
