/** Deterministic text for the generator source and for tests that must predict it. */

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'to', 'vi', 'wen', 'dor', 'el', 'fa', 'gri', 'hal', 'is', 'jo'];

/** 1,024 distinct words: every pair of syllables, with and without a third. */
export const VOCABULARY: readonly string[] = (() => {
  const words: string[] = [];
  for (const a of SYLLABLES) for (const b of SYLLABLES) words.push(a + b);
  for (const a of SYLLABLES) for (const b of SYLLABLES) for (const c of SYLLABLES.slice(0, 3)) words.push(a + b + c);
  return words;
})();

/**
 * A small, fast PRNG (mulberry32) seeded by (seed, index), so record i is the same wherever and
 * whenever it is generated.
 */
export function seededRandom(seed: number, index: number): () => number {
  let a = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 0x632be5ab, 0xc2b2ae35)) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The default generated record: a line of 10 words, skewed towards the start of the vocabulary. */
export function defaultGeneratedLine(_index: number, random: () => number): string {
  let line = '';
  for (let i = 0; i < 10; i++) {
    const r = random();
    const w = VOCABULARY[Math.floor(r * r * VOCABULARY.length)]!;
    line = i === 0 ? w : line + ' ' + w;
  }
  return line;
}
