import { describe, expect, it } from 'vitest';
import { InProcessCircuitBreakers } from './breaker.js';

describe('InProcessCircuitBreakers', () => {
  it('opens after the threshold, admits one trial after the cooldown, closes on success', async () => {
    let now = 0;
    const b = new InProcessCircuitBreakers({ failureThreshold: 2, cooldownMs: 100, now: () => now });
    expect(await b.admit('m')).toBe(true);
    await b.failed('m');
    expect(await b.admit('m')).toBe(true);
    await b.failed('m');
    expect(await b.admit('m')).toBe(false);
    expect((await b.snapshot()).m).toEqual({ state: 'open', failures: 2 });
    now = 100;
    expect(await b.admit('m')).toBe(true); // half-open: one trial
    expect(await b.admit('m')).toBe(false);
    await b.succeeded('m');
    expect((await b.snapshot()).m).toEqual({ state: 'closed', failures: 0 });
    expect(await b.admit('m')).toBe(true);
  });

  it('a failed trial opens the breaker again; a trial that never reports expires', async () => {
    let now = 0;
    const b = new InProcessCircuitBreakers({ failureThreshold: 1, cooldownMs: 50, now: () => now });
    await b.failed('m');
    now = 50;
    expect(await b.admit('m')).toBe(true);
    await b.failed('m');
    expect(await b.admit('m')).toBe(false);
    now = 100;
    expect(await b.admit('m')).toBe(true);
    expect(await b.admit('m')).toBe(false);
    now = 150;
    expect(await b.admit('m')).toBe(true); // the earlier trial was aborted and never reported
  });
});
