import { defineConfig } from 'vitest/config'

// The fault suite (`npm run test:faults`): slow scenarios that kill processes, stop DA,
// the chain and Redis, and audit what is left. Not part of `npm test` (its files end in
// .fault.ts, which the default config does not include). One file at a time: each starts
// its own chain, DA server, Redis and worker processes, and the machine has two cores.
export default defineConfig({
  test: {
    include: ['test/faults/**/*.fault.ts'],
    testTimeout: 900_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    reporters: ['verbose'],
  },
})
