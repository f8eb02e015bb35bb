import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration suites each start their own anvil on a free port; two cores here.
    pool: 'forks',
    maxWorkers: 2,
    // Test files of a worker share its loaded modules instead of importing viem, LangChain,
    // zod and the sources again for each of the 157 files: on the 2-core VM the suite took
    // 9 min instead of 12 (user CPU 12 min instead of 19). Each file still starts its own
    // chain, stores and servers; a test that patches a builtin does it on the module object
    // and restores it (src/da/lookupFlood.test.ts), and no test mocks a module (vi.mock
    // would miss the copies other files already loaded).
    isolate: false,
  },
})
