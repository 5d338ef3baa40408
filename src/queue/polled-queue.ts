import { AppError } from '../errors.js';
import type { Consumer, Job, WorkQueue } from './types.js';

/**
 * The queue of an API process when the deployment has PostgreSQL but no Redis: there is no channel
 * to the workers, so nothing is sent; the workers poll the store for queued work instead. Its depth
 * is the store's backlog, so backpressure still works.
 */
export class PolledQueue implements WorkQueue {
  constructor(private readonly backlog: () => Promise<number>) {}

  async enqueue(_jobs: Job[]): Promise<void> {
    // The work is already in the store, where the workers' reconcilers find it.
  }

  consume(): Consumer {
    throw new AppError('CONFIG_INVALID', 'This process has no work queue to consume: run workers with the worker role');
  }

  depth(): Promise<number> {
    return this.backlog();
  }

  async close(): Promise<void> {}
}
