import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A file of `lines` lines of 10 words from a small vocabulary, with its word counts (computed here, independently of Weir). */
export function writeWordFile(path: string, lines: number, seed = 7): Map<string, number> {
  const vocab = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}`);
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const counts = new Map<string, number>();
  const out: string[] = [];
  for (let l = 0; l < lines; l++) {
    const words: string[] = [];
    for (let k = 0; k < 10; k++) {
      const r = rnd();
      const w = vocab[Math.floor(r * r * vocab.length)]!;
      words.push(w);
      counts.set(w, (counts.get(w) ?? 0) + 1);
    }
    out.push(words.join(' '));
  }
  writeFileSync(path, out.join('\n') + '\n');
  return counts;
}

/**
 * Final count per word from the file sink's `word n` update lines (counts only grow). Reads every
 * finished file of the directory (names not starting with `.`: the sink's in-progress and pending
 * files are hidden), whatever the delivery mode: `<prefix>-<subtask>` (at-least-once) or
 * `<prefix>-<subtask>-<checkpoint|final>-<k>` (exactly-once). `parts[i]` is the number of lines
 * subtask i wrote (over all its files).
 */
export function readCounts(dir: string): { counts: Map<string, number>; lines: number; parts: number[] } {
  const counts = new Map<string, number>();
  let lines = 0;
  const parts: number[] = [];
  for (const f of readdirSync(dir).filter((f) => !f.startsWith('.')).sort()) {
    const subtask = /-(\d+)(?:-(?:\d{10}|final)-\d+)?$/.exec(f);
    if (!subtask) throw new Error(`'${f}' in ${dir} is not a file sink's finished file`);
    let n = 0;
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line) continue;
      const [w, c] = line.split(' ');
      counts.set(w!, Math.max(counts.get(w!) ?? 0, Number(c)));
      n++;
    }
    const i = Number(subtask[1]);
    while (parts.length <= i) parts.push(0);
    parts[i] += n;
    lines += n;
  }
  return { counts, lines, parts };
}
