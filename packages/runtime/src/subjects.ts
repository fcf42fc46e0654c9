/**
 * Every NATS subject, stream, consumer and bucket name Weir uses, built in one place.
 * `cluster` namespaces everything, so several clusters (and tests) share one NATS server.
 */
const SAFE = /^[A-Za-z0-9_-]+$/;

export function assertToken(what: string, value: string): string {
  if (!SAFE.test(value)) throw new Error(`${what} '${value}' may only contain letters, digits, '_' and '-'`);
  return value;
}

export const subjects = {
  /** Prefix for control-plane actors (coordinator, workers). */
  actorPrefix: (cluster: string) => `weir.${cluster}.ctl`,
  /** One data channel: sender subtask -> receiver subtask of an edge. */
  data: (cluster: string, job: string, attempt: number, edge: number, from: number, to: number) =>
    `weir.${cluster}.data.${job}.${attempt}.${edge}.${from}.${to}`,
  /** Everything a receiver subtask reads from one edge (wildcard on the sender). */
  dataInto: (cluster: string, job: string, attempt: number, edge: number, to: number) =>
    `weir.${cluster}.data.${job}.${attempt}.${edge}.*.${to}`,
  dataOfAttempt: (cluster: string, job: string, attempt: number) => `weir.${cluster}.data.${job}.${attempt}.>`,
  /** The stream holding one job attempt's internal channels. */
  dataStream: (cluster: string, job: string, attempt: number) => `WEIR_${cluster}_${job}_${attempt}`,
  dataStreamPrefix: (cluster: string, job: string) => `WEIR_${cluster}_${job}_`,
  /** Durable pull consumer of a receiver subtask on an edge. */
  dataConsumer: (edge: number, to: number) => `in_${edge}_${to}`,
  /** Object Store bucket of job bundles, keyed by content hash. */
  artifactBucket: (cluster: string) => `weir_${cluster}_artifacts`,
  coordinator: 'coordinator',
  worker: (workerId: string) => `worker-${workerId}`,
};
