/**
 * Circuit breakers, one per `provider:model`. Closed: calls go through; `failureThreshold`
 * consecutive failures (429, 5xx, timeouts) open it. Open: calls are refused for `cooldownMs`, and
 * the brain moves down its fallback chain. Half-open: after the cooldown one trial call goes
 * through; success closes the breaker, failure opens it again.
 *
 * The contract is asynchronous so that breaker state can be shared between worker processes:
 * `InProcessCircuitBreakers` keeps it in this process, `RedisCircuitBreakers` (redis-breaker.ts) in
 * Redis. Both pass the same contract suite (breaker-contract.ts).
 */

import type { BreakerStatus } from '../types.js';

export type { BreakerStatus };
export type BreakerState = BreakerStatus['state'];

/** Breakers keyed by model id. */
export interface CircuitBreakers {
  /** True when a call may be made now; moves an open breaker past its cooldown to half-open and admits one trial. */
  admit(key: string): Promise<boolean>;
  /** Records a successful call: the breaker closes. */
  succeeded(key: string): Promise<void>;
  /** Records a failed call (one that counts against the provider). */
  failed(key: string): Promise<void>;
  /** Current state of the given breakers, in order (a breaker that has seen no call is closed), for /health and logs. */
  states(keys: readonly string[]): Promise<BreakerStatus[]>;
}

/** Thresholds shared by every implementation. */
export interface BreakerOptions {
  /** Consecutive failures that open a breaker. */
  failureThreshold: number;
  /** How long an open breaker refuses calls before admitting one trial, ms. */
  cooldownMs: number;
  /** The clock, ms since the epoch (tests pass a fake one). @defaultValue Date.now */
  now?: () => number;
}

interface Entry {
  state: BreakerState;
  failures: number;
  openedAt: number;
  /** A half-open breaker admits one trial call at a time; a trial that never reports back (aborted) expires after the cooldown. */
  trialInFlight: boolean;
  trialAt: number;
}

/** Breakers held in this process's memory. */
export class InProcessCircuitBreakers implements CircuitBreakers {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;

  constructor(private readonly options: BreakerOptions) {
    this.#now = options.now ?? Date.now;
  }

  async admit(key: string): Promise<boolean> {
    const e = this.#entry(key);
    if (e.state === 'closed') return true;
    if (e.state === 'open' && this.#now() - e.openedAt >= this.options.cooldownMs) {
      e.state = 'half_open';
      e.trialInFlight = false;
    }
    const trialExpired = e.trialInFlight && this.#now() - e.trialAt >= this.options.cooldownMs;
    if (e.state === 'half_open' && (!e.trialInFlight || trialExpired)) {
      e.trialInFlight = true;
      e.trialAt = this.#now();
      return true;
    }
    return false;
  }

  async succeeded(key: string): Promise<void> {
    this.#entries.set(key, { state: 'closed', failures: 0, openedAt: 0, trialInFlight: false, trialAt: 0 });
  }

  async failed(key: string): Promise<void> {
    const e = this.#entry(key);
    e.failures++;
    if (e.state === 'half_open' || e.failures >= this.options.failureThreshold) {
      e.state = 'open';
      e.openedAt = this.#now();
      e.trialInFlight = false;
    }
  }

  async states(keys: readonly string[]): Promise<BreakerStatus[]> {
    return keys.map((model) => {
      const e = this.#entries.get(model);
      if (!e) return { model, state: 'closed', failures: 0, opened_at: null };
      return { model, state: e.state, failures: e.failures, opened_at: e.state === 'closed' ? null : e.openedAt };
    });
  }

  #entry(key: string): Entry {
    let e = this.#entries.get(key);
    if (!e) this.#entries.set(key, (e = { state: 'closed', failures: 0, openedAt: 0, trialInFlight: false, trialAt: 0 }));
    return e;
  }
}
