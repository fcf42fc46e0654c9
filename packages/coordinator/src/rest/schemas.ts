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
