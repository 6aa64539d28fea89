import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The ICoT-SI proof trains for several minutes on both cores: `npm run test:proof` runs it
    // after the rest (vitest.proof.config.ts), so it does not share the machine with other files.
    // The fault-injection suite (kill -9 loops, fuzz) runs alone too: `npm run test:faults` (vitest.faults.config.ts).
    exclude: ['test/proof/**', 'test/faults/**', '**/node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
