/**
 * Logical blob names, built in one place. Names never contain the job id (stores prefix it).
 * The attempt is part of every name: a zombie of an old attempt never overwrites a newer blob.
 */

/** Keyed state of one key group written by checkpoint `checkpointId` (a full base or a delta). */
export function keyGroupBlob(uid: string, keyGroup: number, attempt: number, checkpointId: number, kind: 'base' | 'delta'): string {
  return `ks/${uid}/${keyGroup}/${attempt}-${checkpointId}-${kind}`;
}

/** Non-keyed state of one subtask written by checkpoint `checkpointId`. */
export function operatorStateBlob(uid: string, subtask: number, attempt: number, checkpointId: number): string {
  return `os/${uid}/${subtask}/${attempt}-${checkpointId}`;
}
