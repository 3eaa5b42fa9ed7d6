import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The Temporal core bridge is a native addon that crashes under worker threads: use processes.
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    // One Temporal dev server for the whole suite (test/global-setup.ts).
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
