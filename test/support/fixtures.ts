import { afterEach } from 'vitest';

/**
 * Inside a `describe`: returns a function that creates a fixture, and cleans up every fixture it
 * created after each test.
 */
export function trackFixtures<F extends { cleanup(): Promise<void> }>(create: () => Promise<F>): () => Promise<F> {
  const opened: F[] = [];
  afterEach(async () => {
    for (const fx of opened.splice(0)) await fx.cleanup();
  });
  return async () => {
    const fx = await create();
    opened.push(fx);
    return fx;
  };
}
