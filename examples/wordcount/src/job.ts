/**
 * Word count: reads lines, counts words with keyed state, emits (word, count) updates and, when
 * the input is bounded, prints the top words at the end.
 *
 *   --arg source=sample|generator|file|jetstream   (default sample: the bundled text)
 *   --arg words=N          generator: about N words (10 a line)      --arg seed=S
 *   --arg unbounded=true   generator: never ends, --arg rate=N lines/s
 *   --arg input=PATH       file source                                --arg stream=NAME  jetstream source
 *   --arg output=top|print|file|jetstream|none (default top)          --arg out=DIR|SUBJECT
 *   --arg top=K            how many top words to print (default 10)
 */
import { defineActor, defineJob, mapState, valueState, type DataStream, type JobArgs, type StreamEnvironment } from '@weir/sdk';
import { discard, fileSink, fileSource, generator, jetstreamSink, jetstreamSource, print } from '@weir/sdk/connectors';
import { SAMPLE_TEXT } from './sample-text.js';

/** One logical instance per word: count its occurrences. */
export const counter = defineActor({
  state: { count: valueState(0) },
  onMessage(word: string, { state }) {
    const n = state.count.get() + 1;
    state.count.set(n);
    return { word, n };
  },
});

/** A single subtask that keeps the latest count per word and yields the top K when input ends. */
export const topWords = defineActor({
  state: { counts: mapState<string, number>() },
  onMessage(update: { word: string; n: number }, { state }) {
    state.counts.set(update.word, update.n);
  },
  *onEnd({ state, args }) {
    const k = args.int('top', 10);
    const sorted = [...state.counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    let rank = 0;
    for (const [word, n] of sorted.slice(0, k)) yield `${String(++rank).padStart(3)}. ${word.padEnd(16)} ${n}`;
  },
});

function lines(env: StreamEnvironment, args: JobArgs): DataStream<string> {
  const source = args.string('source', 'sample');
  switch (source) {
    case 'sample':
      return env.source(generator({ count: SAMPLE_TEXT.length, make: (i) => SAMPLE_TEXT[i]! }), { uid: 'lines', parallelism: 1 });
    case 'generator': {
      const seed = args.int('seed', 1);
      // --arg unbounded=true runs until canceled, at --arg rate=N lines/s (default 1000).
      if (args.bool('unbounded', false)) return env.source(generator({ seed, ratePerSecond: args.int('rate', 1000) }), { uid: 'lines' });
      return env.source(generator({ count: Math.ceil(args.int('words', 1_000_000) / 10), seed }), { uid: 'lines' });
    }
    case 'file':
      return env.source(fileSource({ path: args.string('input') }), { uid: 'lines' });
    case 'jetstream':
      return env.source(jetstreamSource({ stream: args.string('stream'), bounded: args.bool('bounded', false) }), { uid: 'lines' });
    default:
      throw new Error(`unknown --arg source=${source}: use sample, generator, file or jetstream`);
  }
}

export default defineJob({ name: 'wordcount', version: '1' }, (env, args) => {
  const counts = lines(env, args)
    .flatMap((line) => line.toLowerCase().split(/[^a-z0-9']+/).filter((w) => w.length > 0), { uid: 'split' })
    .keyBy((word) => word)
    .actor(counter, { uid: 'count' });

  const output = args.string('output', 'top');
  switch (output) {
    case 'top':
      counts.actor(topWords, { uid: 'top', parallelism: 1 }).sink(print(), { uid: 'print-top', parallelism: 1 });
      break;
    case 'print':
      counts.sink(print({ format: (u) => `${u.word} ${u.n}` }), { uid: 'out' });
      break;
    case 'file':
      counts.sink(fileSink({ directory: args.string('out'), format: (u) => `${u.word} ${u.n}` }), { uid: 'out' });
      break;
    case 'jetstream':
      counts.sink(jetstreamSink({ subject: args.string('out') }), { uid: 'out' });
      break;
    case 'none':
      counts.sink(discard(), { uid: 'out' });
      break;
    default:
      throw new Error(`unknown --arg output=${output}: use top, print, file, jetstream or none`);
  }
});
