/**
 * Task-level transitions. Each runs in one task transaction together with the events announcing it.
 */
import { AppError, type ErrorInfo } from '../errors.js';
import { ZERO_USAGE, type Usage } from '../events/types.js';
import type { NewTask, StepRecord, TaskRecord, TaskWriter } from '../store/types.js';
import { TERMINAL_TASK_STATUSES } from '../store/types.js';
import { dispatch, commit, type EngineContext } from './context.js';
import { deterministicChecks, recordVerdict, type GoalVerdict } from './goal-check.js';
import type { Job } from '../queue/types.js';
import { wakeManagers } from './delegation.js';
import { replanIfIdle, replanWhenIdle } from './replanning.js';
import { dependentsOf, finalOutput, isFinalStep, promoteSteps, sinceMs, stepsInForce } from './scheduling.js';

/**
 * Creates a task; queues its planning when `start` (and it is new). When more work waits in the
 * queue than AGENTIC_MAX_BACKLOG, refuses with RATE_LIMITED (429, Retry-After) rather than queue without end.
 */
export async function submitTask(ctx: EngineContext, t: NewTask): Promise<{ task: TaskRecord; created: boolean }> {
  if (t.start) await checkBacklog(ctx);
  const { value, events } = await ctx.store.createTask(t);
  if (events.length > 0) await ctx.bus.publish(events);
  if (value.created && t.start) await dispatch(ctx, [{ kind: 'plan', taskId: value.task.id }]);
  return value;
}

async function checkBacklog(ctx: EngineContext): Promise<void> {
  const depth = await ctx.queue.depth().catch(() => 0);
  if (depth < ctx.config.maxBacklog) return;
  // A rough wait: a second, plus one per thousand jobs over the limit, at most a minute.
  const retry_after_s = Math.min(60, 1 + Math.floor((depth - ctx.config.maxBacklog) / 1000));
  throw new AppError('RATE_LIMITED', `The service is busy (${depth} jobs waiting); try again in ${retry_after_s} s`, {
    details: { backlog: depth, max_backlog: ctx.config.maxBacklog, retry_after_s },
  });
}

/** Queues a task created without `start` (the seed API's execute). A queued or finished task is left as is. */
export async function startTask(ctx: EngineContext, task: TaskRecord): Promise<TaskRecord> {
  if (task.queued_at || task.status !== 'pending') return task;
  const updated = await commit(ctx, task.id, async (w) => {
    if (w.task.queued_at) return w.task;
    await w.updateTask({ queued_at: new Date().toISOString() });
    return w.task;
  });
  await dispatch(ctx, [{ kind: 'plan', taskId: task.id }]);
  return updated;
}

/** Cancels an unfinished task: its unfinished steps end with step_failed (CANCELLED), then task_cancelled. */
export async function cancelTask(ctx: EngineContext, taskId: string, reason: string, by?: string): Promise<TaskRecord> {
  return commit(ctx, taskId, async (w) => {
    if (TERMINAL_TASK_STATUSES.has(w.task.status)) {
      throw new AppError('TASK_NOT_CANCELLABLE', `Task ${taskId} is already ${w.task.status}`, {
        details: { task_id: taskId, status: w.task.status },
      });
    }
    await endTask(w, { kind: 'cancelled', reason, by });
    return w.task;
  });
}

export type TaskEnding =
  | { kind: 'cancelled'; reason: string; by?: string }
  | { kind: 'failed'; error: ErrorInfo; failedStepId?: string };

/**
 * Ends a task that did not complete: every unfinished step gets its step_failed (dependents of the
 * failed step with DEPENDENCY_FAILED, the others with the task's reason), then the terminal event.
 * Outputs already produced stay.
 */
export async function endTask(w: TaskWriter, ending: TaskEnding): Promise<void> {
  const steps = await w.listSteps();
  const dependents = ending.kind === 'failed' && ending.failedStepId ? dependentsOf(steps, ending.failedStepId) : new Set<string>();
  for (const step of steps) {
    if (isFinalStep(step)) continue;
    const error = stepEndingError(step, ending, dependents);
    const status = ending.kind === 'cancelled' ? 'cancelled' : 'failed';
    // A call in flight when the task ended holds budget no call will settle: released here, or it would count against the tenant's quota.
    await w.updateStep(step.id, { status, error, completed_at: new Date().toISOString(), lease_owner: null, lease_expires_at: null, reserved_tokens: 0, reserved_usd: 0 });
    await w.append({ type: 'step_failed', step_id: step.id, data: { attempt: step.attempt, error, duration_ms: sinceMs(step.started_at) } });
  }
  const now = new Date().toISOString();
  const duration_ms = sinceMs(w.task.started_at ?? w.task.created_at) ?? 0;
  const usage = usageTotals(await w.usage());
  if (ending.kind === 'cancelled') {
    const error = { code: 'CANCELLED', message: ending.reason, ...(ending.by ? { details: { cancelled_by: ending.by } } : {}) };
    await w.updateTask({ status: 'cancelled', completed_at: now, error, lease_owner: null, lease_expires_at: null, reserved_tokens: 0, reserved_usd: 0 });
    await w.append({ type: 'task_cancelled', data: { reason: ending.reason, duration_ms, usage, ...(ending.by ? { cancelled_by: ending.by } : {}) } });
  } else {
    await w.updateTask({ status: 'failed', completed_at: now, error: ending.error, lease_owner: null, lease_expires_at: null, reserved_tokens: 0, reserved_usd: 0 });
    await w.append({ type: 'task_failed', data: { error: ending.error, duration_ms, usage } });
  }
}

function stepEndingError(step: StepRecord, ending: TaskEnding, dependents: Set<string>): ErrorInfo {
  if (ending.kind === 'cancelled') return { code: 'CANCELLED', message: `Cancelled: ${ending.reason}` };
  if (dependents.has(step.id)) {
    return {
      code: 'DEPENDENCY_FAILED',
      message: `Not run because step ${ending.failedStepId} failed`,
      details: { failed_step: ending.failedStepId },
    };
  }
  if (ending.error.code === 'DEADLINE_EXCEEDED') return ending.error;
  return { code: 'CANCELLED', message: `Stopped because the task failed: ${ending.error.message}` };
}

/** How a task may go on after a step completed. */
export interface AdvancePolicy {
  maxParallel: number;
  /** Whether a plan that did not do may be revised instead of failing the task (see replanning.ts). */
  mayReplan(error: ErrorInfo): boolean;
}

/**
 * After a step completed: completes the task when every step of the plan in force has (or, when
 * the result misses the task, asks for a revised plan or fails the task), else wakes managers whose
 * sub-tasks are done and promotes the steps that may start now. Returns the jobs to dispatch after commit.
 */
export async function advanceTask(w: TaskWriter, policy: AdvancePolicy, judged?: GoalVerdict): Promise<Job[]> {
  // A finished task stays finished, whatever a late step reports.
  if (TERMINAL_TASK_STATUSES.has(w.task.status)) return [];
  // A revision is waiting for the running steps to finish: nothing new starts.
  if (w.task.replan_reason) return replanIfIdle(w);
  const steps = await w.listSteps();
  const current = stepsInForce(steps, w.task.plan_version);
  if (current.every((s) => s.status === 'completed')) {
    const final_output = finalOutput(current);
    // The task-level goal check: an answer is there, and the judge (if any) found it meets the task.
    const checks = deterministicChecks([], { text: final_output, sources: [] });
    const pass = checks.every((c) => c.pass) && (judged?.pass ?? true);
    await recordVerdict(w, null, 0, { ...judged, turn: null, checks: [...checks, ...(judged?.checks.slice(1) ?? [])], pass });
    if (!pass) {
      const reasons = judged?.judge?.reasons.join('; ') || 'the final output is empty';
      const error = { code: 'GOAL_NOT_MET', message: `The result does not meet the task: ${reasons}` };
      if (policy.mayReplan(error)) return replanWhenIdle(w, { trigger: 'goal_not_met', error });
      await w.updateTask({ final_output });
      await endTask(w, { kind: 'failed', error });
      return [];
    }
    await w.updateTask({ status: 'completed', final_output, completed_at: new Date().toISOString() });
    const duration_ms = sinceMs(w.task.started_at ?? w.task.created_at) ?? 0;
    await w.append({ type: 'task_completed', data: { final_output, duration_ms, usage: usageTotals(await w.usage()) } });
    return [];
  }
  const woken = await wakeManagers(w, steps);
  const promoted = await promoteSteps(w, await w.listSteps(), policy.maxParallel);
  return [...woken, ...promoted].map((stepId) => ({ kind: 'step' as const, taskId: w.task.id, stepId }));
}

/** The usage fields events carry, from a task's or step's running totals. */
export function usageTotals(u: Usage | undefined): Usage {
  return u
    ? { input_tokens: u.input_tokens, output_tokens: u.output_tokens, cached_tokens: u.cached_tokens, cost_usd: u.cost_usd }
    : { ...ZERO_USAGE };
}
