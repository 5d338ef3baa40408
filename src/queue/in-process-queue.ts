import type { ConsumeOptions, Consumer, Job, JobHandler, WorkQueue } from './types.js';
import { jobKey } from './types.js';

/**
 * The embedded shape's queue: a FIFO in memory. A job already waiting is not queued twice. Durability
 * comes from the store: after a restart the reconciler enqueues the unfinished work again.
 */
export class InProcessWorkQueue implements WorkQueue {
  readonly #jobs: Job[] = [];
  readonly #waiting = new Set<string>();
  readonly #consumers = new Set<InProcessConsumer>();
  #closed = false;

  async enqueue(jobs: Job[]): Promise<void> {
    if (this.#closed) return;
    for (const job of jobs) {
      const key = jobKey(job);
      if (this.#waiting.has(key)) continue;
      this.#waiting.add(key);
      this.#jobs.push(job);
    }
    for (const c of this.#consumers) c.pump();
  }

  /** Takes the next job, or undefined. Used by consumers. */
  take(): Job | undefined {
    const job = this.#jobs.shift();
    if (job) this.#waiting.delete(jobKey(job));
    return job;
  }

  consume(handler: JobHandler, options: ConsumeOptions): Consumer {
    const consumer = new InProcessConsumer(this, handler, options.concurrency, (c) => this.#consumers.delete(c));
    this.#consumers.add(consumer);
    consumer.pump();
    return consumer;
  }

  async depth(): Promise<number> {
    return this.#jobs.length;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#consumers].map((c) => c.stop(0)));
  }
}

class InProcessConsumer implements Consumer {
  #inFlight = 0;
  #stopped = false;
  readonly #idle: Array<() => void> = [];

  constructor(
    private readonly queue: InProcessWorkQueue,
    private readonly handler: JobHandler,
    private readonly concurrency: number,
    private readonly onStop: (c: InProcessConsumer) => void,
  ) {}

  get inFlight(): number {
    return this.#inFlight;
  }

  pump(): void {
    while (!this.#stopped && this.#inFlight < this.concurrency) {
      const job = this.queue.take();
      if (!job) return;
      this.#inFlight++;
      void this.handler(job)
        .catch(() => undefined) // Handlers record their own failures; the queue only schedules.
        .finally(() => {
          this.#inFlight--;
          if (this.#inFlight === 0) this.#idle.splice(0).forEach((r) => r());
          this.pump();
        });
    }
  }

  async stop(graceMs = 10_000): Promise<void> {
    this.#stopped = true;
    this.onStop(this);
    if (this.#inFlight === 0) return;
    await Promise.race([
      new Promise<void>((r) => this.#idle.push(r)),
      new Promise<void>((r) => setTimeout(r, graceMs).unref()),
    ]);
  }
}
