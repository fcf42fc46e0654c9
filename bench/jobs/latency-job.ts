/**
 * JetStream → JetStream for bench:latency: every input message is `${seq}:${sendTimeMs}`; a map
 * parses it, a keyed reduce (key seq % keys) keeps a running count per key and carries the latest
 * record's seq and send time, and the sink publishes `${seq}:${sendTimeMs}` again, so the reader of
 * the output stream can compute the end-to-end latency of every record.
 *
 *   weir run bench/jobs/latency-job.ts -p 2 --detach --checkpoint-interval 1000 \
 *     --arg in=<input stream> --arg out=<output subject> --arg delivery=exactly-once|at-least-once [--arg keys=1000]
 */
import { defineJob } from '@weir/sdk';
import { jetstreamSink, jetstreamSource } from '@weir/sdk/connectors';

interface Rec {
  readonly seq: number;
  readonly t: number;
  readonly n: number;
}

export default defineJob({ name: 'latency', checkpoints: { intervalMs: 1000 } }, (env, args) => {
  const keys = args.int('keys', 1000);
  const delivery = args.string('delivery', 'at-least-once');
  if (delivery !== 'exactly-once' && delivery !== 'at-least-once') throw new Error(`delivery must be exactly-once or at-least-once, got '${delivery}'`);
  env
    .source(jetstreamSource<string>({ stream: args.string('in') }), { uid: 'in' })
    .map((s): Rec => {
      const i = s.indexOf(':');
      return { seq: Number(s.slice(0, i)), t: Number(s.slice(i + 1)), n: 1 };
    }, { uid: 'parse' })
    .keyBy((r) => r.seq % keys)
    .reduce((acc, r) => ({ seq: r.seq, t: r.t, n: acc.n + r.n }), { uid: 'count' })
    .sink(jetstreamSink<Rec>({ subject: args.string('out'), delivery, encode: (r) => `${r.seq}:${r.t}` }), { uid: 'out' });
});
