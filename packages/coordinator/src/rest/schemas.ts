/**
 * JSON schemas shared by REST routes. A job graph description arrives with a submit (POST /jobs)
 * and with a check against a savepoint (POST /savepoints/:id/check): both get the same shape check
 * before validateGraph looks at its meaning, so a malformed node is a 400, never a TypeError (500).
 */

/** One operator of a graph description (OperatorDescription); fields may be added, so others are allowed. */
const operatorSchema = {
  type: 'object',
  required: ['id', 'uid', 'kind', 'parallelism', 'maxParallelism', 'keyed', 'inputs'],
  properties: {
    id: { type: 'integer' },
    uid: { type: 'string' },
    name: { type: 'string' },
    kind: { type: 'string' },
    parallelism: { type: 'integer' },
    maxParallelism: { type: 'integer' },
    chaining: { type: 'boolean' },
    keyed: { type: 'boolean' },
    inputs: { type: 'array', items: { type: 'object', required: ['from', 'partitioning'], properties: { from: { type: 'integer' }, partitioning: { type: 'string' } } } },
    connector: { type: 'string' },
    bounded: { type: 'boolean' },
    state: { type: 'object', additionalProperties: { type: 'string' } },
    timers: { type: 'boolean' },
  },
} as const;

/** A job graph description (JobGraphDescription), as `weir run` builds it. */
export const descriptionSchema = {
  type: 'object',
  required: ['apiVersion', 'name', 'version', 'nodes'],
  properties: { apiVersion: { type: 'integer' }, name: { type: 'string' }, version: { type: 'string' }, nodes: { type: 'array', minItems: 1, items: operatorSchema }, config: { type: 'object' } },
} as const;
