/**
 * Each fault group's tally (attempts, clean, failures), written where the
 * suite's reporter (./summary-reporter.ts) reads it at the end. A group
 * records every attempt, so its count is complete even when some fail; its
 * test then asserts that none did.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface GroupCounts {
  group: string;
  attempts: number;
  clean: number;
  /** What went wrong, one line per failed attempt. */
  failures: string[];
}

/** The folder the tallies go to (set by vitest.faults.config.ts). */
export const COUNTS_DIR_VARIABLE = 'STEPWISE_FAULT_COUNTS';

export function tally(group: string) {
  const counts: GroupCounts = { group, attempts: 0, clean: 0, failures: [] };
  return {
    counts,
    /** One attempt: clean when `problem` is null, else a failure saying what. */
    attempt(what: string, problem: string | null): void {
      counts.attempts++;
      if (problem === null) counts.clean++;
      else counts.failures.push(`${what}: ${problem}`);
    },
    /** Writes the tally for the reporter (and answers the failures, for the test to assert there are none). */
    write(): string[] {
      const dir = process.env[COUNTS_DIR_VARIABLE];
      if (dir) {
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, `${group.replace(/[^a-z0-9-]/gi, '_')}.json`), JSON.stringify(counts));
      }
      return counts.failures;
    },
  };
}
