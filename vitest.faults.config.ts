import os from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';
import { COUNTS_DIR_VARIABLE } from './test/faults/counts.ts';
import { FaultSummary } from './test/faults/summary-reporter.ts';

/**
 * The fault-injection suite (test/faults, issue 23), run by `npm run test:faults`:
 * the auth matrix, the contract fuzz, the malformed-file corpus and kill -9
 * during training. One file at a time (the kill test trains on both cores);
 * the summary reporter prints each group's counts and, last, `N passed, N failed`.
 */
const countsDir = path.join(os.tmpdir(), `stepwise-fault-counts-${process.pid}`);
process.env[COUNTS_DIR_VARIABLE] = countsDir;

export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 240_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    env: { [COUNTS_DIR_VARIABLE]: countsDir },
    reporters: ['default', new FaultSummary(countsDir)],
  },
});
