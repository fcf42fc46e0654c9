import { Packr } from 'msgpackr';
const packr = new Packr({ moreTypes: true });
const groups = new Map();
for (let i = 0; i < 500000; i++) { const g = i % 64; if (!groups.has(g)) groups.set(g, new Map()); groups.get(g).set('k' + (i * 2), { value: i * 3 }); }
function flatRows(rows) { const flat = new Array(rows.size * 2); let i = 0; rows.forEach((row, id) => { flat[i++] = id; flat[i++] = row; }); return flat; }
for (let run = 0; run < 8; run++) {
  let t = performance.now(); let bytes = 0; let tf = 0;
  for (const [g, rows] of groups) { const t0 = performance.now(); const f = flatRows(rows); tf += performance.now() - t0; const b = packr.pack({ v: 1, base: true, flat: f }); bytes += b.length; }
  console.log('pack', (performance.now() - t).toFixed(1), 'flat', tf.toFixed(1), bytes);
}
