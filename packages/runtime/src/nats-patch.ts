import { RequestError, RequestOne } from '@nats-io/nats-core/internal';

/**
 * nats.js 3.4 ends every request with `cancel()`, which rejects the request's promise with a new
 * RequestError even when it already resolved: one Error (with a stack capture) per JetStream
 * publish, a large share of CPU and GC in channels and sinks. Rejecting a settled promise does
 * nothing, so one shared error serves every real cancellation just as well.
 */
const CANCELLED = new RequestError('cancelled');
const proto = RequestOne.prototype as unknown as { cancel(err?: Error): void; timer?: { cancel(): void }; mux: { cancel(r: unknown): void }; deferred: { reject(e: Error): void } };
proto.cancel = function (this: typeof proto, err?: Error): void {
  this.timer?.cancel();
  this.mux.cancel(this);
  this.deferred.reject(err ?? CANCELLED);
};
