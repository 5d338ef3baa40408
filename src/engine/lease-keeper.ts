import { AppError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Store } from '../store/types.js';

/**
 * Keeps this worker's step leases alive: one statement renews all of them every third of the lease
 * length, and a step whose lease was lost (taken over after an expiry) has its run aborted at once.
 */
export class LeaseKeeper {
  readonly #held = new Map<string, { controller: AbortController; since: number }>();
  #round = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly owner: string,
    private readonly leaseMs: number,
    private readonly logger: Logger,
  ) {}

  /** Starts keeping the lease of a claimed step (or, without a step, of a task being planned);
   * returns the signal that fires if it is lost. */
  track(taskId: string, stepId?: string): { signal: AbortSignal; release: () => void } {
    const key = stepId === undefined ? taskId : `${taskId} ${stepId}`;
    const controller = new AbortController();
    // Remember the renewal round it started in: a renewal already under way cannot know of it.
    const entry = { controller, since: this.#round };
    this.#held.set(key, entry);
    this.#timer ??= setInterval(() => void this.#renew(), Math.max(100, Math.floor(this.leaseMs / 3)));
    this.#timer.unref();
    return {
      signal: controller.signal,
      release: () => {
        if (this.#held.get(key) === entry) this.#held.delete(key);
        if (this.#held.size === 0) this.#stop();
      },
    };
  }

  async #renew(): Promise<void> {
    if (this.#held.size === 0) return;
    const round = ++this.#round;
    try {
      const still = await this.store.renewLeases(this.owner, this.leaseMs);
      for (const [key, { controller, since }] of this.#held) {
        if (since < round && !still.has(key)) controller.abort(new AppError('NOT_READY', `Lease on ${key} was lost`));
      }
    } catch (err) {
      // A transient store failure: the leases stay valid until they expire; try again next round.
      this.logger.warn({ err: String(err) }, 'lease renewal failed');
    }
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
