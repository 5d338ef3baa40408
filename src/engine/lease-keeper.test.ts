import { describe, expect, it } from 'vitest';
import { createLogger } from '../observability/logger.js';
import type { Store } from '../store/types.js';
import { LeaseKeeper } from './lease-keeper.js';

/** A store whose renewals take `delayMs` and report the leases in `held` at the time they were asked. */
function slowStore(held: Set<string>, delayMs: number): Store {
  return {
    renewLeases: async () => {
      const snapshot = new Set(held);
      await new Promise((r) => setTimeout(r, delayMs));
      return snapshot;
    },
  } as unknown as Store;
}

describe('LeaseKeeper', () => {
  it('aborts a run whose lease was lost, and only that one', async () => {
    const held = new Set(['t1 s1']);
    const keeper = new LeaseKeeper(slowStore(held, 0), 'me', 300, createLogger('silent'));
    const kept = keeper.track('t1', 's1');
    const lost = keeper.track('t2', 's1');
    await new Promise((r) => setTimeout(r, 250));
    expect(lost.signal.aborted).toBe(true);
    expect(String((lost.signal.reason as Error).message)).toContain('t2 s1');
    expect(kept.signal.aborted).toBe(false);
    kept.release();
    lost.release();
  });

  it('does not abort a lease taken while a renewal was already under way', async () => {
    const held = new Set(['t1 s1']);
    const keeper = new LeaseKeeper(slowStore(held, 150), 'me', 300, createLogger('silent'));
    const first = keeper.track('t1', 's1');
    // The first renewal starts at 100 ms and answers at 250 ms; this lease is taken in between.
    await new Promise((r) => setTimeout(r, 130));
    held.add('t3 s1');
    const late = keeper.track('t3', 's1');
    await new Promise((r) => setTimeout(r, 200));
    expect(late.signal.aborted).toBe(false);
    first.release();
    late.release();
  });
});
