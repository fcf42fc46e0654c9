/**
 * The thread of chain-merge-thread.ts: folds key-group chains (mergeChain) off the caller's event
 * loop. Messages: `{ id, blobs }` in, `{ id, bytes }` or `{ id, error: { code?, message } }` out.
 */
import { parentPort } from 'node:worker_threads';
import { mergeChain } from './chain-merge.js';

parentPort!.on('message', ({ id, blobs }: { id: number; blobs: Uint8Array[] }) => {
  try {
    const bytes = mergeChain(blobs);
    // A chain of one blob comes back as it is: copy it, so the transfer leaves nothing detached here that matters.
    const out = bytes === blobs[0] ? new Uint8Array(bytes) : bytes;
    parentPort!.postMessage({ id, bytes: out }, [out.buffer as ArrayBuffer]);
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    parentPort!.postMessage({ id, error: { code: typeof e.code === 'string' ? e.code : undefined, message: String(e.message ?? err) } });
  }
});
