import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { FrameKind, frameSeq } from '../frames.js';
import { checkDataPlaneOptions, JetStreamOutput } from './jetstream.js';
import type { PubAckPublisher, PublishOutcome } from './pub-acks.js';

const invalid = (re: RegExp) => (e: unknown) => {
  assert.equal((e as { code?: string }).code, 'WEIR_CONFIG_INVALID', String(e));
  assert.match((e as Error).message, re);
  return true;
};

test('the defaults and a window up to the per-channel limit pass', () => {
  checkDataPlaneOptions({});
  checkDataPlaneOptions({ window: 64, maxFramesPerChannel: 64 });
  checkDataPlaneOptions({ window: 4096, maxFramesPerChannel: 0 }); // no per-channel limit
});

test('a window larger than the per-channel limit is refused: the held-back frames could block the retry', () => {
  assert.throws(() => checkDataPlaneOptions({ window: 65 }), invalid(/window \(65 publishes in flight\) exceeds maxFramesPerChannel \(64\).*at most 64/));
  assert.throws(() => checkDataPlaneOptions({ window: 8, maxFramesPerChannel: 4 }), invalid(/at most 4/));
});

test('counts must be whole and positive', () => {
  for (const [name, v] of [['window', 0], ['fetchAhead', 1.5], ['queueBound', -1], ['maxFrames', Number.NaN], ['maxBytes', 0]] as const) {
    assert.throws(() => checkDataPlaneOptions({ [name]: v }), invalid(new RegExp(`${name} is`)));
  }
  assert.throws(() => checkDataPlaneOptions({ maxFramesPerChannel: -1 }), invalid(/maxFramesPerChannel is -1/));
});

test('a refused frame is retried alone: frames after it wait, so those held back cannot fill the channel', async () => {
  // Scripted PubAcks: the channel is full when frame 1 comes, and has room again for 2 and 3.
  const batches: number[][] = [];
  const publisher = {
    publishAll: async (_subject: string, frames: readonly Uint8Array[]): Promise<PublishOutcome[]> => {
      const seqs = frames.map((f) => frameSeq(f));
      batches.push(seqs);
      return seqs.map((s) => (s === 1 && batches.length < 3 ? 'refused' : 'stored'));
    },
  } as unknown as PubAckPublisher;
  const out = new JetStreamOutput(publisher, 'weir.t.data', 16, 4, pino({ level: 'silent' }));
  for (let i = 0; i < 8; i++) out.send({ kind: FrameKind.Records, records: [i] });
  await out.flushed();
  assert.deepEqual(batches, [[0, 1, 2, 3], [1], [1], [4, 5, 6, 7]]);
});
