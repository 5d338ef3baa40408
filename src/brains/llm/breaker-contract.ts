/**
 * The circuit breakers' contract test suite, run against every implementation (in-process and
 * Redis) by `breaker.test.ts`.
 */
import { describe, expect, it } from 'vitest';
import { trackFixtures } from '../../../test/support/fixtures.js';
import type { BreakerOptions, CircuitBreakers } from './breaker.js';

export interface BreakerFixture {
  /** Breakers; calls with the same `shared` name see the same state (another process, for Redis). */
  open(shared: string, options: BreakerOptions): Promise<CircuitBreakers>;
  cleanup(): Promise<void>;
}

/** A fake clock the breakers read. */
function clock(): { now: () => number; set(ms: number): void } {
  let t = 0;
  return { now: () => t, set: (ms) => void (t = ms) };
}

const stateOf = async (b: CircuitBreakers, key = 'm') => (await b.states([key]))[0]!;

export function runCircuitBreakersContract(name: string, fixture: () => Promise<BreakerFixture>): void {
  describe(`CircuitBreakers contract: ${name}`, () => {
    const setup = trackFixtures(fixture);

    it('opens after the threshold, admits one trial after the cooldown, closes on success', async () => {
      const t = clock();
      const b = await (await setup()).open('a', { failureThreshold: 2, cooldownMs: 100, now: t.now });
      expect(await b.admit('m')).toBe(true);
      await b.failed('m');
      expect(await b.admit('m')).toBe(true);
      await b.failed('m');
      expect(await b.admit('m')).toBe(false);
      expect(await stateOf(b)).toEqual({ model: 'm', state: 'open', failures: 2, opened_at: 0 });
      t.set(100);
      expect(await b.admit('m')).toBe(true); // half-open: one trial
      expect(await b.admit('m')).toBe(false);
      expect(await stateOf(b)).toMatchObject({ state: 'half_open', opened_at: 0 });
      await b.succeeded('m');
      expect(await stateOf(b)).toEqual({ model: 'm', state: 'closed', failures: 0, opened_at: null });
      expect(await b.admit('m')).toBe(true);
    });

    it('a failed trial opens the breaker again; a trial that never reports expires', async () => {
      const t = clock();
      const b = await (await setup()).open('a', { failureThreshold: 1, cooldownMs: 50, now: t.now });
      await b.failed('m');
      t.set(50);
      expect(await b.admit('m')).toBe(true);
      await b.failed('m');
      expect(await b.admit('m')).toBe(false);
      expect(await stateOf(b)).toMatchObject({ state: 'open', opened_at: 50 });
      t.set(100);
      expect(await b.admit('m')).toBe(true);
      expect(await b.admit('m')).toBe(false);
      t.set(150);
      expect(await b.admit('m')).toBe(true); // the earlier trial was aborted and never reported
    });

    it('a success resets the count: only consecutive failures open the breaker', async () => {
      const b = await (await setup()).open('a', { failureThreshold: 2, cooldownMs: 100 });
      await b.failed('m');
      await b.succeeded('m');
      await b.failed('m');
      expect(await b.admit('m')).toBe(true);
      expect(await stateOf(b)).toMatchObject({ state: 'closed', failures: 1, opened_at: null });
    });

    it('reports breakers in the order asked, unseen ones closed, each model on its own', async () => {
      const b = await (await setup()).open('a', { failureThreshold: 1, cooldownMs: 60_000 });
      await b.failed('x:one');
      expect(await b.admit('x:two')).toBe(true);
      const states = await b.states(['x:two', 'x:one', 'x:never']);
      expect(states.map((s) => [s.model, s.state])).toEqual([['x:two', 'closed'], ['x:one', 'open'], ['x:never', 'closed']]);
      expect(await b.states([])).toEqual([]);
    });

    it('breakers opened with the same name share their state: failures add up, one trial at a time', async () => {
      const t = clock();
      const fx = await setup();
      const options = { failureThreshold: 2, cooldownMs: 100, now: t.now };
      const [one, two] = [await fx.open('shared', options), await fx.open('shared', options)];
      await one.failed('m');
      await two.failed('m');
      expect(await one.admit('m')).toBe(false);
      expect(await two.admit('m')).toBe(false);
      t.set(100);
      const admitted = await Promise.all([one.admit('m'), two.admit('m'), one.admit('m'), two.admit('m')]);
      expect(admitted.filter(Boolean)).toHaveLength(1);
      await two.succeeded('m');
      expect(await stateOf(one)).toMatchObject({ state: 'closed', failures: 0 });
      expect(await one.admit('m')).toBe(true);
    });
  });
}
