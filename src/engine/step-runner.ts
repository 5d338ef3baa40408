/**
 * Runs one step under a lease: claims it, keeps the lease alive with heartbeats, runs attempts of
 * the agent loop with retries (exponential backoff, full jitter), and commits the outcome. Every
 * write is guarded by "still running and still ours", so a worker that lost its lease (or a step
 * cancelled meanwhile) changes nothing.
 */
import { getAgent } from '../agents/index.js';
import { AppError, toAppError } from '../errors.js';
import type { StepRecord, TaskRecord } from '../store/types.js';
import { runAttempt } from './agent-loop.js';
import { commit, taskLimits, type EngineContext, type TaskLimits } from './context.js';
import { advanceTask, endTask, sinceMs, usageOf, usageTotals } from './lifecycle.js';
import { backoffDelay, sleep } from './retry.js';
import type { TaskSignals } from './task-signals.js';

export async function runStepJob(ctx: EngineContext, signals: TaskSignals, taskId: string, stepId: string): Promise<void> {
  const task = await ctx.store.getTask(taskId);
  if (!task || task.status !== 'running') return;
  const claimed = await ctx.store.claimStep(taskId, stepId, ctx.workerId, ctx.config.leaseMs);
  if (!claimed) return;
  const limits = taskLimits(task, ctx.config);
  const remaining = task.deadline_at ? Date.parse(task.deadline_at) - Date.now() : limits.timeoutMs;
  if (remaining <= 0) return failTaskForDeadline(ctx, task);
  const taskSignal = await signals.acquire(taskId);
  const local = new AbortController();
  const deadline = setTimeout(() => local.abort(deadlineError(limits)), remaining);
  const heartbeat = startHeartbeat(ctx, claimed, local);
  try {
    const signal = AbortSignal.any([taskSignal.signal, local.signal]);
    await runAttempts(ctx, { task, step: claimed, limits, signal });
  } finally {
    clearTimeout(deadline);
    clearInterval(heartbeat);
    taskSignal.release();
  }
}

interface StepRun {
  task: TaskRecord;
  step: StepRecord;
  limits: TaskLimits;
  signal: AbortSignal;
}

async function runAttempts(ctx: EngineContext, run: StepRun): Promise<void> {
  let attempt = run.step.attempt === 0 ? await announceStart(ctx, run) : run.step.attempt;
  if (attempt === 0) return;
  // A step may use its agent's tools and the tools its plan gave it, where the registry has them.
  const allowedTools = new Set([...(getAgent(run.step.agent)?.tools ?? []), ...run.step.tools].filter((t) => ctx.tools.has(t)));
  for (;;) {
    try {
      const result = await runAttempt(ctx, { ...run, attempt, allowedTools });
      return await completeStep(ctx, run, attempt, result.output, result.iterations);
    } catch (err) {
      if (run.signal.aborted) return handleAbort(ctx, run, run.signal.reason);
      const error = toAppError(err);
      if (!error.retryable || attempt >= run.limits.retryAttempts) return failStep(ctx, run, attempt, error);
      const next = await announceRetry(ctx, run, attempt, error);
      if (next === 0) return;
      try {
        await sleep(next.delay, run.signal);
      } catch (abort) {
        return handleAbort(ctx, run, abort);
      }
      attempt = next.attempt;
    }
  }
}

/** Records attempt 1 and step_started; returns 0 when the step is no longer ours. */
async function announceStart(ctx: EngineContext, run: StepRun): Promise<number> {
  return commit(ctx, run.task.id, async (w) => {
    if (!(await w.updateStep(run.step.id, { attempt: 1 }, { status: ['running'], owner: ctx.workerId }))) return 0;
    await w.append({
      type: 'step_started',
      step_id: run.step.id,
      data: { attempt: 1, agent: run.step.agent, title: run.step.title, description: run.step.instruction },
    });
    return 1;
  });
}

async function announceRetry(ctx: EngineContext, run: StepRun, attempt: number, error: AppError): Promise<{ attempt: number; delay: number } | 0> {
  const delay = backoffDelay(attempt, ctx.config.retryBaseMs, ctx.config.retryCapMs);
  const ok = await commit(ctx, run.task.id, async (w) => {
    if (!(await w.updateStep(run.step.id, { attempt: attempt + 1 }, { status: ['running'], owner: ctx.workerId }))) return false;
    await w.append({
      type: 'step_retrying',
      step_id: run.step.id,
      data: { attempt, next_attempt: attempt + 1, delay_ms: delay, error: error.toInfo() },
    });
    return true;
  });
  ctx.logger.warn({ task_id: run.task.id, step_id: run.step.id, attempt, delay_ms: delay, code: error.code }, 'step attempt failed; retrying');
  return ok ? { attempt: attempt + 1, delay } : 0;
}

async function completeStep(ctx: EngineContext, run: StepRun, attempt: number, output: StepRecord['output'], iterations: number): Promise<void> {
  // Read before the transaction: a query beside an open transaction would wait on it (PGlite has one connection).
  const summary = await ctx.store.taskUsage(run.task.id);
  const usage = usageTotals(summary);
  const stepUsage = summary.by_step[run.step.id];
  const promoted = await commit(ctx, run.task.id, async (w) => {
    const done = await w.updateStep(
      run.step.id,
      { status: 'completed', output, iterations, completed_at: new Date().toISOString(), lease_owner: null, lease_expires_at: null },
      { status: ['running'], owner: ctx.workerId },
    );
    if (!done) return [];
    await w.append({
      type: 'step_completed',
      step_id: run.step.id,
      data: {
        attempt,
        output: output?.text ?? '',
        duration_ms: sinceMs(run.step.started_at) ?? 0,
        usage: usageTotals(stepUsage),
      },
    });
    return advanceTask(w, run.limits.maxParallelSteps, usage);
  });
  await ctx.queue.enqueue(promoted.map((stepId) => ({ kind: 'step' as const, taskId: run.task.id, stepId })));
}

/** A step failed for good: it fails, its dependents fail, and the task fails with its error and code. */
async function failStep(ctx: EngineContext, run: StepRun, attempt: number, error: AppError): Promise<void> {
  const usage = await usageOf(ctx, run.task.id);
  const info = error.toInfo();
  ctx.logger.error({ task_id: run.task.id, step_id: run.step.id, attempt, code: error.code, err: error.message }, 'step failed');
  await commit(ctx, run.task.id, async (w) => {
    const mine = await w.updateStep(
      run.step.id,
      { status: 'failed', error: info, completed_at: new Date().toISOString(), lease_owner: null, lease_expires_at: null },
      { status: ['running'], owner: ctx.workerId },
    );
    if (!mine) return;
    await w.append({ type: 'step_failed', step_id: run.step.id, data: { attempt, error: info, duration_ms: sinceMs(run.step.started_at) } });
    const taskError = {
      code: info.code,
      message: `Step ${run.step.id} (${run.step.agent}) failed: ${info.message}`,
      details: { ...info.details, step_id: run.step.id, attempt },
    };
    await endTask(w, { kind: 'failed', error: taskError, failedStepId: run.step.id }, usage);
  });
}

/** Cancel and lost leases stop quietly (someone else records the outcome); a deadline fails the task. */
async function handleAbort(ctx: EngineContext, run: StepRun, reason: unknown): Promise<void> {
  if (reason instanceof AppError && reason.code === 'DEADLINE_EXCEEDED') await failTaskForDeadline(ctx, run.task, reason);
}

async function failTaskForDeadline(ctx: EngineContext, task: TaskRecord, error = deadlineError(taskLimits(task, ctx.config))): Promise<void> {
  const usage = await usageOf(ctx, task.id);
  await commit(ctx, task.id, async (w) => {
    if (w.task.status !== 'running' && w.task.status !== 'planning') return;
    await endTask(w, { kind: 'failed', error: error.toInfo() }, usage);
  });
}

export function deadlineError(limits: TaskLimits): AppError {
  return new AppError('DEADLINE_EXCEEDED', `The task did not finish within its deadline of ${limits.timeoutMs} ms`, {
    details: { timeout_ms: limits.timeoutMs },
  });
}

/** Renews the lease every third of its length; if it was lost, aborts the local run. */
function startHeartbeat(ctx: EngineContext, step: StepRecord, local: AbortController): NodeJS.Timeout {
  const every = Math.max(100, Math.floor(ctx.config.leaseMs / 3));
  const timer = setInterval(() => {
    ctx.store
      .renewStepLease(step.task_id, step.id, ctx.workerId, ctx.config.leaseMs)
      .then((held) => {
        if (!held) local.abort(new AppError('NOT_READY', `Lease on step ${step.id} was lost`));
      })
      .catch((err: unknown) => ctx.logger.warn({ task_id: step.task_id, step_id: step.id, err: String(err) }, 'lease renewal failed'));
  }, every);
  timer.unref();
  return timer;
}
