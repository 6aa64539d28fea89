import { defineConfig } from 'vitest/config';

/** The long learning proofs (test/proof), run alone after the main suite by `npm test`. */
export default defineConfig({
  test: {
    include: ['test/proof/**/*.test.ts'],
    testTimeout: 40 * 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
