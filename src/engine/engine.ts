import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { AppError } from '../errors.js';
import type { Job } from '../queue/types.js';
import type { Consumer } from '../queue/types.js';
import type { ApprovalRecord, NewTask, TaskRecord } from '../store/types.js';
import { createOperatorPolicy, type McpApprovalRule } from '../policy/index.js';
import { settleApprovals, wakeAfterDecisions } from './approvals.js';
import { invokeDirect, type DirectCall, type DirectOutcome } from './direct-calls.js';
import { capOptions, dispatch, commit, type EngineContext } from './context.js';
import { admissionOf, quotasFor } from './quotas.js';
import { cancelTask, startTask, submitTask } from './lifecycle.js';
import { LeaseKeeper } from './lease-keeper.js';
import { ToolPolicies } from './policies.js';
import { runPlanJob } from './planning.js';
import { failTaskForDeadline, runStepJob } from './step-runner.js';
import { TaskSignals } from './task-signals.js';

/** Delay before a job that failed for infrastructure reasons is offered again, ms. */
const RETRY_JOB_MS = 1000;

export type EngineDeps = Omit<EngineContext, 'workerId' | 'approvals' | 'policies'> & {
  workerId?: string;
  /** Approval rules of the tools' own (MCP servers' settings), tried after AGENTIC_APPROVAL_RULES. */
  extraApprovalRules?: McpApprovalRule[];
};

export interface WorkerOptions {
  /** This process is the only worker (embedded): leases left by an earlier run are released at once. */
  exclusive: boolean;
  /** How often the reconciler looks for work nobody holds, ms (0: only at start). */
  reconcileEveryMs: number;
  /**
   * The queue does not reach other processes (PostgreSQL without Redis): the reconciler then takes
   * all queued work from the store on every pass, so work created by another process is found.
   */
  pollStore?: boolean;
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
  #exclusive = false;
  /** Jobs this process is working on now. */
  readonly #running = new Set<string>();
  #pollStore = false;
  #reconciler: NodeJS.Timeout | undefined;

  constructor(deps: EngineDeps) {
    this.ctx = {
      ...deps,
      workerId: deps.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
      policies: new ToolPolicies(
        deps.store,
        createOperatorPolicy({
          toolPolicy: deps.config.toolPolicy,
          approvalRules: deps.config.approvalRules,
          toolInvokers: deps.config.toolInvokers,
          mcpRules: deps.extraApprovalRules ?? [],
        }),
      ),
      approvals: { ttlMs: deps.config.approvalTtlMs, defaultDecision: deps.config.approvalDefault, fourEyes: deps.config.approvalFourEyes },
    };
    this.#signals = new TaskSignals(deps.bus);
    this.#leases = new LeaseKeeper(deps.store, this.ctx.workerId, deps.config.leaseMs, deps.logger);
  }

  /**
   * Creates a task (queued at once unless `start` is false). Same idempotency key and body: same task.
   * Its options are capped at the operator's maxima, and its tenant's admission quotas apply (QUOTA_EXCEEDED).
   */
  submit(task: Omit<NewTask, 'id' | 'admission'> & { id?: string }): Promise<{ task: TaskRecord; created: boolean }> {
    return submitTask(this.ctx, {
      ...task,
      id: task.id ?? randomUUID(),
      options: capOptions(task.options, this.ctx.config),
      admission: admissionOf(quotasFor(this.ctx.config, task.tenantId)),
    });
  }

  /** Queues a task that was created without starting. */
  start(task: TaskRecord): Promise<TaskRecord> {
    return startTask(this.ctx, task);
  }

  /** Cancels a task; running work stops promptly (its abort signals fire). `by`: the principal, when a person cancels. */
  async cancel(taskId: string, reason = 'cancelled by request', by?: string): Promise<TaskRecord> {
    const task = await cancelTask(this.ctx, taskId, reason, by);
    this.#signals.abort(taskId, new AppError('CANCELLED', reason));
    return task;
  }

  /**
   * Decides a pending approval request of the tenant (`decidedBy`, the deciding principal, is recorded)
   * and wakes its step. APPROVAL_NOT_FOUND for an unknown id (or another tenant's); FORBIDDEN when
   * four-eyes applies and the decider is who asked; APPROVAL_EXPIRED past its expiry; APPROVAL_DECIDED
   * when already decided.
   */
  async decideApproval(
    tenantId: string,
    id: string,
    d: { decision: 'approve' | 'reject'; reason: string | null; decidedBy: string; fourEyesApplies: boolean },
  ): Promise<ApprovalRecord> {
    const existing = await this.ctx.store.getApproval(id, tenantId);
    if (!existing) throw new AppError('APPROVAL_NOT_FOUND', `No approval request ${id}`, { details: { approval_id: id } });
    if (this.ctx.approvals.fourEyes && d.fourEyesApplies && existing.requested_by === d.decidedBy) {
      throw new AppError('FORBIDDEN', 'A request is decided by someone other than the principal whose call asked for it (four-eyes; AGENTIC_APPROVAL_FOUR_EYES)', {
        details: { approval_id: id, requested_by: existing.requested_by, reason: 'four_eyes' },
      });
    }
    const decided = await this.ctx.store.decideApproval(id, tenantId, { status: d.decision === 'approve' ? 'approved' : 'rejected', reason: d.reason, decidedBy: d.decidedBy });
    if (!decided) {
      const now = (await this.ctx.store.getApproval(id, tenantId)) ?? existing;
      if (now.status === 'pending') {
        throw new AppError('APPROVAL_EXPIRED', `Approval request ${id} expired at ${now.expires_at}; its default (${now.default_decision}) applies`, {
          details: { approval_id: id, expires_at: now.expires_at, default_decision: now.default_decision },
        });
      }
      throw new AppError('APPROVAL_DECIDED', `Approval request ${id} was already decided (${now.status} by ${now.decided_by})`, {
        details: { approval_id: id, status: now.status, decided_by: now.decided_by, decided_at: now.decided_at, expired: now.expired },
      });
    }
    if (decided.task_id && decided.step_id) await wakeAfterDecisions(this.ctx, decided.task_id, decided.step_id);
    return decided;
  }

  /** Runs one tool directly, under the rules a task's calls follow (direct-calls.ts). */
  invokeTool(call: DirectCall): Promise<DirectOutcome> {
    return invokeDirect(this.ctx, call);
  }

  /** Handles one job; failures are recorded on the task, never thrown to the queue. */
  async handle(job: Job): Promise<void> {
    // A duplicate delivery of work this process is already doing is dropped: the lease would let this
    // same worker claim it again, and it must not run twice at once.
    const key = job.kind === 'plan' ? `plan ${job.taskId}` : `${job.taskId} ${job.stepId}`;
    if (this.#running.has(key)) return;
    this.#running.add(key);
    try {
      if (job.kind === 'plan') await runPlanJob(this.ctx, { signals: this.#signals, leases: this.#leases }, job.taskId);
      else await runStepJob(this.ctx, { signals: this.#signals, leases: this.#leases }, job.taskId, job.stepId);
    } catch (err) {
      // Only infrastructure failures reach here (the store is unreachable): offer the job again shortly;
      // should this process die first, the reconciler finds the work in the store.
      this.ctx.logger.error({ job, err: String(err) }, 'job failed; offering it again');
      setTimeout(() => void dispatch(this.ctx, [job]), RETRY_JOB_MS).unref();
    } finally {
      this.#running.delete(key);
    }
  }

  /** Starts taking work: resumes unfinished tasks, then consumes the queue. */
  async startWorker(options: WorkerOptions): Promise<void> {
    this.#exclusive = options.exclusive;
    this.#pollStore = options.pollStore ?? false;
    if (options.exclusive) await this.ctx.store.releaseAllLeases();
    await this.reconcile(true);
    this.#consumer = this.ctx.queue.consume((job) => this.handle(job), { concurrency: this.ctx.config.workerConcurrency });
    if (options.reconcileEveryMs > 0) {
      this.#reconciler = setInterval(() => void this.reconcile(false).catch(() => undefined), options.reconcileEveryMs);
      this.#reconciler.unref();
    }
  }

  /**
   * Dispatches work that nobody holds: tasks waiting to be planned, steps ready for a while, and
   * steps whose lease expired; fails tasks past their deadline. The store is the truth; the queue may
   * have lost messages (a Redis restarted empty). At the start of an exclusive worker everything
   * unfinished is resumed at once, each resumed task with a task_resumed event. Returns the jobs queued.
   */
  async reconcile(atStart: boolean): Promise<number> {
    // Work untouched for this long is presumed lost (a message Redis dropped), not merely queued.
    const staleMs = (atStart && this.#exclusive) || this.#pollStore ? 0 : Math.max(3 * this.ctx.config.reconcileMs, 2 * this.ctx.config.leaseMs);
    await settleApprovals(this.ctx).catch((err: unknown) => this.ctx.logger.warn({ err: String(err) }, 'could not settle approvals'));
    const work = await this.ctx.store.findOrphanedWork(staleMs, 1000);
    for (const taskId of work.overdue) {
      const task = await this.ctx.store.getTask(taskId);
      if (task) await failTaskForDeadline(this.ctx, task);
    }
    const jobs: Job[] = [
      ...work.plans.map((taskId) => ({ kind: 'plan' as const, taskId })),
      ...work.steps.map((s) => ({ kind: 'step' as const, taskId: s.task_id, stepId: s.step_id })),
    ];
    if (atStart) {
      for (const taskId of new Set(work.steps.map((s) => s.task_id))) await this.#announceResume(taskId);
    }
    await dispatch(this.ctx, jobs);
    if (jobs.length > 0) this.ctx.logger.info({ jobs: jobs.length, at_start: atStart }, 'reconciler dispatched unfinished work');
    return jobs.length;
  }

  async #announceResume(taskId: string): Promise<void> {
    await commit(this.ctx, taskId, async (w) => {
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
    const released = await this.ctx.store.releaseLeases(this.ctx.workerId).catch(() => []);
    await dispatch(this.ctx, released.map((s) => ({ kind: 'step' as const, taskId: s.task_id, stepId: s.step_id })));
  }
}
