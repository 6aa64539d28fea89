/** What a run killed mid-training and resumed must have left in the store. */
import Database from 'better-sqlite3';
import path from 'node:path';
import { expect } from 'vitest';

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/**
 * Checks the log and the loss steps of a run that was killed and resumed to
 * `total` steps: the log says where it resumed from, and the steps are every
 * step but those the killed process trained and checkpointed without writing
 * them (steps are written in batches), which the log names. Returns the step
 * the run resumed from.
 */
export function expectResumedSteps(steps: number[], messages: string[], total: number): number {
  const interrupted = messages.find((m) => m.startsWith('the process running this run stopped'));
  expect(interrupted, 'the log says the process stopped').toBeDefined();
  const [, from] = /interrupted: resume to continue from step (\d+)$/.exec(interrupted!)!;
  const resumedFrom = Number(from);
  expect(resumedFrom).toBeLessThan(total);
  expect(messages).toContain(`resuming from the checkpoint of step ${from}`);
  const lost = /\(the metrics of steps? (\d+)(?:–(\d+))? were lost with it\)/.exec(interrupted!);
  if (lost) expect(Number(lost[2] ?? lost[1])).toBe(resumedFrom);
  const recorded = lost ? Number(lost[1]) - 1 : resumedFrom;
  expect(steps).toEqual([...range(1, recorded), ...range(resumedFrom + 1, total)]);
  return resumedFrom;
}

/**
 * Resolves once the lab in `dataDir` has recorded a checkpoint, so that a process killed then has
 * recorded every step before it too. Throws `failure()` after `timeoutMs`, or when `gone()` says
 * the training process already ended.
 */
export async function untilCheckpointRecorded(dataDir: string, opts: { timeoutMs: number; failure: () => string; gone?: () => boolean }): Promise<void> {
  const recorded = () => {
    try {
      const db = new Database(path.join(dataDir, 'stepwise.db'), { readonly: true, fileMustExist: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM checkpoints').get() as { n: number }).n > 0;
      } finally {
        db.close();
      }
    } catch {
      return false; // not created yet
    }
  };
  for (let waited = 0; !recorded(); waited += 10) {
    if (waited > opts.timeoutMs || opts.gone?.()) throw new Error(opts.failure());
    await new Promise((r) => setTimeout(r, 10));
  }
}
