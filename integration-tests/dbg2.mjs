import { weir, withNats, FIXTURES } from '/work/main/integration-tests/dist/harness.js';
import { publishKeys, deleteStream } from '/work/main/integration-tests/dist/keys.js';
import { jetstreamManager } from '@nats-io/jetstream';
const id = 'dbg' + Date.now();
await publishKeys(`IN_${id}`, `dbg.${id}.in`, 300000);
await withNats(async (nc) => (await jetstreamManager(nc)).streams.add({ name: `OUT_${id}`, subjects: [`dbg.${id}.out`], duplicate_window: 120e9 }));
for (const d of ['at-least-once', 'exactly-once']) {
  const t = Date.now();
  const r = await weir(['run', FIXTURES + 'eo-count.ts', '-p', '2', '--arg', `stream=IN_${id}`, '--arg', `subject=dbg.${id}.out`, '--arg', `list=dbg:${id}:${d}`, '--arg', `dir=/tmp/dbg-${id}-${d}`, '--arg', `delivery=${d}`, '--checkpoint-interval', '1000'], { WEIR_REST_URL: '' });
  console.log(d, Date.now() - t, 'ms', r.code, r.stderr.slice(-300));
}
await deleteStream(`IN_${id}`); await deleteStream(`OUT_${id}`);
