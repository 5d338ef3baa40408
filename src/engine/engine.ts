import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { AppError } from '../errors.js';
import type { Job } from '../queue/types.js';
import type { Consumer } from '../queue/types.js';
import type { NewTask, TaskRecord } from '../store/types.js';
import { commit, type EngineContext } from './context.js';
import { cancelTask, startTask, submitTask } from './lifecycle.js';
import { LeaseKeeper } from './lease-keeper.js';
import { runPlanJob } from './planning.js';
import { failTaskForDeadline, runStepJob } from './step-runner.js';
import { TaskSignals } from './task-signals.js';

export type EngineDeps = Omit<EngineContext, 'workerId'> & { workerId?: string };

export interface WorkerOptions {
  /** This process is the only worker (embedded): leases left by an earlier run are released at once. */
  exclusive: boolean;
  /** How often the reconciler looks for work nobody holds, ms (0: only at start). */
  reconcileEveryMs: number;
}

/**
 * The engine: the same code in every shape. The API side creates, starts and cancels tasks; the
 * worker side takes jobs from the queue and plans tasks and runs steps. Which store, queue and bus
 * it talks to is decided elsewhere (compose).
 */
export class Engine {
  readonly ctx: EngineContext;
  readonly #signals: TaskSignals;
  readonly #leases: LeaseKeeper;
  #consumer: Consumer | undefined;
  #reconciler: NodeJS.Timeout | undefined;

  constructor(deps: EngineDeps) {
    this.ctx = { ...deps, workerId: deps.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}` };
    this.#signals = new TaskSignals(deps.bus);
    this.#leases = new LeaseKeeper(deps.store, this.ctx.workerId, deps.config.leaseMs, deps.logger);
  }

  /** Creates a task (queued at once unless `start` is false). Same idempotency key and body: same task. */
  submit(task: Omit<NewTask, 'id'> & { id?: string }): Promise<{ task: TaskRecord; created: boolean }> {
    return submitTask(this.ctx, { ...task, id: task.id ?? randomUUID() });
  }

  /** Queues a task that was created without starting. */
  start(task: TaskRecord): Promise<TaskRecord> {
    return startTask(this.ctx, task);
  }

  /** Cancels a task; running work stops promptly (its abort signals fire). */
  async cancel(taskId: string, reason = 'cancelled by request'): Promise<TaskRecord> {
    const task = await cancelTask(this.ctx, taskId, reason);
    this.#signals.abort(taskId, new AppError('CANCELLED', reason));
    return task;
  }

  /** Handles one job; failures are recorded on the task, never thrown to the queue. */
  async handle(job: Job): Promise<void> {
    try {
      if (job.kind === 'plan') await runPlanJob(this.ctx, this.#signals, job.taskId);
      else await runStepJob(this.ctx, { signals: this.#signals, leases: this.#leases }, job.taskId, job.stepId);
    } catch (err) {
      // Only infrastructure failures reach here (the store is down); the reconciler retries the job later.
      this.ctx.logger.error({ job, err: String(err) }, 'job failed; it will be picked up again');
    }
  }

  /** Starts taking work: resumes unfinished tasks, then consumes the queue. */
  async startWorker(options: WorkerOptions): Promise<void> {
    if (options.exclusive) await this.ctx.store.releaseAllLeases();
    await this.reconcile(true);
    this.#consumer = this.ctx.queue.consume((job) => this.handle(job), { concurrency: this.ctx.config.workerConcurrency });
    if (options.reconcileEveryMs > 0) {
      this.#reconciler = setInterval(() => void this.reconcile(false).catch(() => undefined), options.reconcileEveryMs);
      this.#reconciler.unref();
    }
  }

  /**
   * Dispatches work that nobody holds: tasks waiting to be planned and steps ready or running under
   * an expired lease. The store is the truth; the queue may have lost messages. Returns the jobs queued.
   */
  async reconcile(atStart: boolean): Promise<number> {
    const tasks = await this.ctx.store.listUnfinishedTasks(10_000);
    let queued = 0;
    for (const task of tasks) {
      const jobs = await this.#jobsFor(task);
      if (jobs === null) continue;
      if (atStart && jobs.length > 0 && task.status !== 'pending') await this.#announceResume(task);
      await this.ctx.queue.enqueue(jobs);
      queued += jobs.length;
    }
    if (queued > 0) this.ctx.logger.info({ jobs: queued, at_start: atStart }, 'reconciler dispatched unfinished work');
    return queued;
  }

  async #jobsFor(task: TaskRecord): Promise<Job[] | null> {
    if (task.deadline_at && Date.parse(task.deadline_at) < Date.now()) {
      await failTaskForDeadline(this.ctx, task);
      return null;
    }
    if (task.status === 'pending' || task.status === 'planning') return [{ kind: 'plan', taskId: task.id }];
    const now = Date.now();
    const steps = await this.ctx.store.listSteps(task.id);
    return steps
      .filter((s) => s.status === 'ready' || (s.status === 'running' && (!s.lease_expires_at || Date.parse(s.lease_expires_at) < now)))
      .map((s) => ({ kind: 'step', taskId: task.id, stepId: s.id }));
  }

  async #announceResume(task: TaskRecord): Promise<void> {
    await commit(this.ctx, task.id, async (w) => {
      await w.append({ type: 'task_resumed', data: { reason: 'worker started; resuming from the journal', status: w.task.status } });
    });
  }

  /** Stops taking work, lets running jobs finish for up to `graceMs`, then aborts the rest. */
  async stop(graceMs = 5_000): Promise<void> {
    clearInterval(this.#reconciler);
    const consumer = this.#consumer;
    this.#consumer = undefined;
    if (!consumer) return;
    const stopping = consumer.stop(graceMs);
    await stopping;
    if (consumer.inFlight > 0) {
      this.#signals.abortAll(new AppError('NOT_READY', 'worker shutting down'));
      await consumer.stop(1_000);
    }
    // Hand back what this worker still held, so other workers take it over at once.
    await this.ctx.store.releaseLeases(this.ctx.workerId).catch(() => undefined);
  }
}
