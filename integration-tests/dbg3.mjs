import { withNats } from '/work/main/integration-tests/dist/harness.js';
import { publishKeys } from '/work/main/integration-tests/dist/keys.js';
import { jetstreamManager } from '@nats-io/jetstream';
const id = process.argv[2];
await publishKeys(`IN_${id}`, `dbg.${id}.in`, 300000);
await withNats(async (nc) => (await jetstreamManager(nc)).streams.add({ name: `OUT_${id}`, subjects: [`dbg.${id}.out`], duplicate_window: 120e9 }));
