import { WeirError } from '@weir/sdk';
import { fileSource } from './file-source.js';
import { generatorSource } from './generator.js';
import { jetstreamSink, jetstreamSource } from './jetstream.js';
import { redisHashSink, redisSink } from './redis-sink.js';
import { fileSink } from './file-sink.js';
import { discardSink, printSink } from './sinks.js';
import type { SinkFactory, SourceFactory } from './types.js';

const sources: Record<string, SourceFactory> = { generator: generatorSource, file: fileSource, jetstream: jetstreamSource };
const sinks: Record<string, SinkFactory> = { print: printSink, file: fileSink, jetstream: jetstreamSink, discard: discardSink, redis: redisSink, 'redis-hash': redisHashSink };

export function sourceFactory(type: string): SourceFactory {
  const f = sources[type];
  if (!f) throw new WeirError('WEIR_CONNECTOR_UNKNOWN', `unknown source connector '${type}'; known: ${Object.keys(sources).join(', ')}`);
  return f;
}

export function sinkFactory(type: string): SinkFactory {
  const f = sinks[type];
  if (!f) throw new WeirError('WEIR_CONNECTOR_UNKNOWN', `unknown sink connector '${type}'; known: ${Object.keys(sinks).join(', ')}`);
  return f;
}
