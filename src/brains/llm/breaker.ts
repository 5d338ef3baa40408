/**
 * Circuit breakers, one per `provider:model`. Closed: calls go through; `failureThreshold`
 * consecutive failures (429, 5xx, timeouts) open it. Open: calls are refused for `cooldownMs`, and
 * the brain moves down its fallback chain. Half-open: after the cooldown one trial call goes
 * through; success closes the breaker, failure opens it again.
 *
 * The contract is asynchronous so that a Redis-backed implementation can share breaker state
 * between worker processes later; today's implementation lives in the process.
 */

export type BreakerState = 'closed' | 'open' | 'half_open';

/** Breakers keyed by model id. */
export interface CircuitBreakers {
  /** True when a call may be made now; moves an open breaker past its cooldown to half-open and admits one trial. */
  admit(key: string): Promise<boolean>;
  /** Records a successful call: the breaker closes. */
  succeeded(key: string): Promise<void>;
  /** Records a failed call (one that counts against the provider). */
  failed(key: string): Promise<void>;
  /** Current state of every breaker that has seen a call, for /health and logs. */
  snapshot(): Promise<Record<string, { state: BreakerState; failures: number }>>;
}

export interface BreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
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

  async snapshot(): Promise<Record<string, { state: BreakerState; failures: number }>> {
    return Object.fromEntries([...this.#entries].map(([k, e]) => [k, { state: e.state, failures: e.failures }]));
  }

  #entry(key: string): Entry {
    let e = this.#entries.get(key);
    if (!e) this.#entries.set(key, (e = { state: 'closed', failures: 0, openedAt: 0, trialInFlight: false, trialAt: 0 }));
    return e;
  }
}
