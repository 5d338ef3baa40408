import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: keep parallelism modest so suites pass on a busy machine.
    maxWorkers: 2,
    pool: 'forks',
    // Test files share their worker's modules: PGlite's WebAssembly is compiled, and the empty in-memory
    // database dumped, once per worker instead of once per file (a third of the suite's time). Every file
    // opens its own services and closes them, so none depends on another's module state.
    isolate: false,
  },
});
