/** What a run killed mid-training and resumed must have left in the store. */
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
