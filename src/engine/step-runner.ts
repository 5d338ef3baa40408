/**
 * Runs one step under a lease: claims it (one write that also records attempt 1 and step_started),
 * keeps the lease alive through the LeaseKeeper, runs attempts of the agent loop with retries
 * (exponential backoff, full jitter), and commits the outcome. Every write is guarded by "still
 * running and still ours", so a worker that lost its lease (or a step cancelled meanwhile) changes nothing.
 */
import { getAgent } from '../agents/index.js';
import type { StepOutput } from '../brains/types.js';
import { AppError, toAppError } from '../errors.js';
import { commitPaid, recordTurn, runAttempt, type AttemptResult } from './agent-loop.js';
import { checkGoal, recordVerdict, type GoalVerdict } from './goal-check.js';
import { finalOutput } from './scheduling.js';
import { dispatch, commit, taskLimits, type EngineContext, type TaskLimits } from './context.js';
import type { LeaseKeeper } from './lease-keeper.js';
import { settleBudget } from './budget.js';
import type { Job } from '../queue/types.js';
import type { StepRecord, TaskRecord, TaskWriter } from '../store/types.js';
import { advanceTask, endTask, usageTotals, type AdvancePolicy } from './lifecycle.js';
import { mayReplan, replanWhenIdle } from './replanning.js';
import { sinceMs, stepsInForce } from './scheduling.js';
import { backoffDelay, sleep } from './retry.js';
import type { TaskSignals } from './task-signals.js';

/** How long a step held back by its tenant's cap waits before it is offered again, ms. */
const TENANT_RETRY_MS = 250;

export interface StepJobDeps {
  signals: TaskSignals;
  leases: LeaseKeeper;
}

export async function runStepJob(ctx: EngineContext, deps: StepJobDeps, taskId: string, stepId: string): Promise<void> {
  const claimed = await claim(ctx, taskId, stepId);
  if (!claimed) return;
  const { task, step, fresh } = claimed;
  const limits = taskLimits(task, ctx.config);
  const remaining = task.deadline_at ? Date.parse(task.deadline_at) - Date.now() : limits.timeoutMs;
  if (remaining <= 0) return failTaskForDeadline(ctx, task);
  const lease = deps.leases.track(taskId, stepId);
  const taskSignal = await deps.signals.acquire(taskId);
  const local = new AbortController();
  const deadline = setTimeout(() => local.abort(deadlineError(limits)), remaining);
  try {
    const signal = AbortSignal.any([taskSignal.signal, lease.signal, local.signal]);
    await runAttempts(ctx, { task, step, limits, signal }, !fresh);
  } finally {
    clearTimeout(deadline);
    lease.release();
    taskSignal.release();
  }
}

/** Takes the step's lease; a first claim also starts attempt 1 with step_started. Null when not ours to run. */
async function claim(ctx: EngineContext, taskId: string, stepId: string): Promise<{ task: TaskRecord; step: StepRecord; fresh: boolean } | null> {
  let result;
  try {
    result = await commit(ctx, taskId, async (w) => {
      // A task awaiting approval of one step's call goes on with its other steps.
      if (w.task.status !== 'running' && w.task.status !== 'awaiting_approval') return null;
      const claimed = await w.claimStep(stepId, ctx.workerId, ctx.config.leaseMs, { tenantMaxRunning: ctx.config.tenantMaxRunning });
      if (!claimed.ok) return claimed.reason;
      const step = claimed.step;
      // A reservation left by a worker that lost the step was for a call that will not settle.
      if (step.reserved_tokens > 0 || step.reserved_usd > 0) await settleBudget(w, stepId);
      if (step.attempt > 0) return { task: w.task, step, fresh: false };
      await w.updateStep(stepId, { attempt: 1 });
      await w.append({ type: 'step_started', step_id: stepId, data: { attempt: 1, agent: step.agent, title: step.title, description: step.instruction } });
      return { task: w.task, step: { ...step, attempt: 1 }, fresh: true };
    });
  } catch (err) {
    if (err instanceof AppError && err.code === 'TASK_NOT_FOUND') return null;
    throw err;
  }
  if (result === 'tenant_busy') {
    // The tenant has its share running: offer the step again a little later, letting other tenants' work pass.
    setTimeout(() => void dispatch(ctx, [{ kind: 'step', taskId, stepId }]), TENANT_RETRY_MS).unref();
  }
  return typeof result === 'string' ? null : result;
}

interface StepRun {
  task: TaskRecord;
  step: StepRecord;
  limits: TaskLimits;
  signal: AbortSignal;
}

/** `resumed`: the step ran before (in another process, or an earlier attempt), so its journal may have turns to replay. */
async function runAttempts(ctx: EngineContext, run: StepRun, resumed: boolean): Promise<void> {
  let attempt = run.step.attempt;
  // A step may use its agent's tools and the tools its plan gave it, where the registry has them.
  const allowedTools = new Set([...(getAgent(run.step.agent)?.tools ?? []), ...run.step.tools].filter((t) => ctx.tools.has(t, run.task.tenant_id)));
  for (;;) {
    try {
      const result = await runAttempt(ctx, { ...run, attempt, allowedTools, resumed });
      // A manager that delegated waits, holding no lease, until its sub-tasks wake it.
      if (result === 'waiting') return;
      return await completeStep(ctx, run, attempt, result);
    } catch (err) {
      if (run.signal.aborted) return handleAbort(ctx, run, run.signal.reason);
      const error = toAppError(err);
      // The store being unreachable is not the step's fault: the job is offered again and resumes
      // from the journal, without using up an attempt.
      if (error.code === 'STORE_ERROR') throw error;
      if (!error.retryable || attempt >= run.limits.retryAttempts) return failStep(ctx, run, attempt, error);
      const next = await announceRetry(ctx, run, attempt, error);
      if (next === 0) return;
      try {
        await sleep(next.delay, run.signal);
      } catch (abort) {
        return handleAbort(ctx, run, abort);
      }
      attempt = next.attempt;
      // The next attempt continues the step's journal: decisions made are not asked again, and
      // calls that finished are not run again.
      resumed = true;
    }
  }
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

async function completeStep(ctx: EngineContext, run: StepRun, attempt: number, result: AttemptResult): Promise<void> {
  const { output, iterations } = result;
  const taskVerdict = await judgeTaskIfLast(ctx, run, output);
  const jobs = await commitPaid(ctx, run.task.id, result.journal, async (w) => {
    const done = await w.updateStep(
      run.step.id,
      { status: 'completed', output, iterations, completed_at: new Date().toISOString(), lease_owner: null, lease_expires_at: null },
      { status: ['running'], owner: ctx.workerId },
    );
    // The final answer's model call was made either way; the turn is journaled only with the completion.
    if (!done) {
      await result.journal?.accounting(w);
      return [];
    }
    await recordTurn(w, result.journal);
    await recordVerdict(w, run.step.id, attempt, result.verdict);
    await w.append({
      type: 'step_completed',
      step_id: run.step.id,
      data: { attempt, output: output.text, duration_ms: sinceMs(run.step.started_at) ?? 0, usage: usageTotals(await w.usage(run.step.id)) },
    });
    return advanceTask(w, advancePolicy(ctx, w, run.limits), taskVerdict);
  });
  await dispatch(ctx, jobs);
}

function advancePolicy(ctx: EngineContext, w: TaskWriter, limits: TaskLimits): AdvancePolicy {
  return { maxParallel: limits.maxParallelSteps, mayReplan: (error) => mayReplan(ctx, w.task, limits, error) };
}

/**
 * When this is the task's last step to finish and the brain has a judge, judges the task's final
 * output against the task before the completion is committed (a model call cannot run inside it).
 */
async function judgeTaskIfLast(ctx: EngineContext, run: StepRun, output: StepOutput): Promise<GoalVerdict | undefined> {
  if (!ctx.brain.judge) return undefined;
  const steps = stepsInForce(await ctx.store.listSteps(run.task.id), run.step.plan_version);
  if (!steps.every((s) => s.id === run.step.id || s.status === 'completed')) return undefined;
  const final = finalOutput(steps.map((s) => (s.id === run.step.id ? { ...s, output } : s)));
  const task = { id: run.task.id, input: run.task.input, files: [], options: run.task.options };
  return checkGoal(ctx, { task, tenantId: run.task.tenant_id, step: null, criteria: [run.task.input], output: { text: final, sources: [] }, turn: null, limits: run.limits, signal: run.signal });
}

/**
 * A step failed for good: it fails; then either the plan is revised (when the brain can, within
 * max_replans) or its dependents fail and the task fails with its error and code.
 */
async function failStep(ctx: EngineContext, run: StepRun, attempt: number, error: AppError): Promise<void> {
  const info = error.toInfo();
  ctx.logger.error({ task_id: run.task.id, step_id: run.step.id, attempt, code: error.code, err: error.message }, 'step failed');
  const jobs = await commit(ctx, run.task.id, async (w): Promise<Job[]> => {
    const mine = await w.updateStep(
      run.step.id,
      { status: 'failed', error: info, completed_at: new Date().toISOString(), lease_owner: null, lease_expires_at: null },
      { status: ['running'], owner: ctx.workerId },
    );
    if (!mine) return [];
    await w.append({ type: 'step_failed', step_id: run.step.id, data: { attempt, error: info, duration_ms: sinceMs(run.step.started_at) } });
    if (mayReplan(ctx, w.task, run.limits, info)) return replanWhenIdle(w, { trigger: 'step_failed', step_id: run.step.id, error: info });
    const taskError = {
      code: info.code,
      message: `Step ${run.step.id} (${run.step.agent}) failed: ${info.message}`,
      details: { ...info.details, step_id: run.step.id, attempt },
    };
    await endTask(w, { kind: 'failed', error: taskError, failedStepId: run.step.id });
    return [];
  });
  await dispatch(ctx, jobs);
}

/** Cancel and lost leases stop quietly (someone else records the outcome); a deadline fails the task. */
async function handleAbort(ctx: EngineContext, run: StepRun, reason: unknown): Promise<void> {
  if (reason instanceof AppError && reason.code === 'DEADLINE_EXCEEDED') await failTaskForDeadline(ctx, run.task, reason);
}

export async function failTaskForDeadline(ctx: EngineContext, task: TaskRecord, error = deadlineError(taskLimits(task, ctx.config))): Promise<void> {
  await commit(ctx, task.id, async (w) => {
    if (w.task.status !== 'running' && w.task.status !== 'planning' && w.task.status !== 'awaiting_approval') return;
    await endTask(w, { kind: 'failed', error: error.toInfo() });
  });
}

export function deadlineError(limits: TaskLimits): AppError {
  return new AppError('DEADLINE_EXCEEDED', `The task did not finish within its deadline of ${limits.timeoutMs} ms`, {
    details: { timeout_ms: limits.timeoutMs },
  });
}
