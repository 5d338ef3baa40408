/**
 * The work queue contract. A job names work to do; the queue delivers it at least once to one of the
 * consumers. Correctness never depends on the queue: a step runs under a lease in the store, and a
 * reconciler dispatches runnable work again if a message is lost.
 */
export type Job = { kind: 'plan'; taskId: string } | { kind: 'step'; taskId: string; stepId: string };

export type JobHandler = (job: Job) => Promise<void>;

export interface ConsumeOptions {
  /** Jobs handled at once by this consumer. */
  concurrency: number;
}

export interface Consumer {
  /** Jobs being handled right now. */
  readonly inFlight: number;
  /** Stops taking jobs and waits for those in flight (up to `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

export interface WorkQueue {
  enqueue(jobs: Job[]): Promise<void>;
  consume(handler: JobHandler, options: ConsumeOptions): Consumer;
  /** Jobs waiting to be taken (an estimate for backpressure). */
  depth(): Promise<number>;
  close(): Promise<void>;
}

export function jobKey(job: Job): string {
  return job.kind === 'plan' ? `plan:${job.taskId}` : `step:${job.taskId}:${job.stepId}`;
}
