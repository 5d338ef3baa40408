/**
 * Task-level transitions. Each runs in one task transaction together with the events announcing it.
 */
import { AppError, type ErrorInfo } from '../errors.js';
import { ZERO_USAGE, type Usage } from '../events/types.js';
import type { NewTask, StepRecord, TaskRecord, TaskWriter } from '../store/types.js';
import { TERMINAL_TASK_STATUSES } from '../store/types.js';
import { dispatch, commit, type EngineContext } from './context.js';
import { deterministicChecks, recordVerdict, type GoalVerdict } from './goal-check.js';
import { dependentsOf, finalOutput, isFinalStep, stepsToPromote } from './scheduling.js';

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
export async function cancelTask(ctx: EngineContext, taskId: string, reason: string): Promise<TaskRecord> {
  return commit(ctx, taskId, async (w) => {
    if (TERMINAL_TASK_STATUSES.has(w.task.status)) {
      throw new AppError('TASK_NOT_CANCELLABLE', `Task ${taskId} is already ${w.task.status}`, {
        details: { task_id: taskId, status: w.task.status },
      });
    }
    await endTask(w, { kind: 'cancelled', reason });
    return w.task;
  });
}

export type TaskEnding =
  | { kind: 'cancelled'; reason: string }
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
    await w.updateStep(step.id, { status, error, completed_at: new Date().toISOString(), lease_owner: null, lease_expires_at: null });
    await w.append({ type: 'step_failed', step_id: step.id, data: { attempt: step.attempt, error, duration_ms: sinceMs(step.started_at) } });
  }
  const now = new Date().toISOString();
  const duration_ms = sinceMs(w.task.started_at ?? w.task.created_at) ?? 0;
  const usage = usageTotals(await w.usage());
  if (ending.kind === 'cancelled') {
    await w.updateTask({ status: 'cancelled', completed_at: now, error: { code: 'CANCELLED', message: ending.reason }, lease_owner: null, lease_expires_at: null });
    await w.append({ type: 'task_cancelled', data: { reason: ending.reason, duration_ms, usage } });
  } else {
    await w.updateTask({ status: 'failed', completed_at: now, error: ending.error, lease_owner: null, lease_expires_at: null });
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

/**
 * After a step completed: completes the task when every step has, else promotes the steps that may
 * start now. Returns the ids of promoted steps, for dispatch after commit.
 */
export async function advanceTask(w: TaskWriter, maxParallel: number, judged?: GoalVerdict): Promise<string[]> {
  const steps = await w.listSteps();
  if (steps.every((s) => s.status === 'completed')) {
    const final_output = finalOutput(steps);
    // The task-level goal check: an answer is there, and the judge (if any) found it meets the task.
    const checks = deterministicChecks([], { text: final_output, sources: [] });
    const pass = checks.every((c) => c.pass) && (judged?.pass ?? true);
    await recordVerdict(w, null, 0, { ...judged, turn: null, checks: [...checks, ...(judged?.checks.slice(1) ?? [])], pass });
    if (!pass) {
      await w.updateTask({ final_output });
      const reasons = judged?.judge?.reasons.join('; ') || 'the final output is empty';
      await endTask(w, { kind: 'failed', error: { code: 'GOAL_NOT_MET', message: `The result does not meet the task: ${reasons}` } });
      return [];
    }
    await w.updateTask({ status: 'completed', final_output, completed_at: new Date().toISOString() });
    const duration_ms = sinceMs(w.task.started_at ?? w.task.created_at) ?? 0;
    await w.append({ type: 'task_completed', data: { final_output, duration_ms, usage: usageTotals(await w.usage()) } });
    return [];
  }
  return promoteSteps(w, steps, maxParallel);
}

export async function promoteSteps(w: TaskWriter, steps: StepRecord[], maxParallel: number): Promise<string[]> {
  const promote = stepsToPromote(steps, maxParallel);
  const now = new Date().toISOString();
  for (const step of promote) await w.updateStep(step.id, { status: 'ready', ready_at: now });
  return promote.map((s) => s.id);
}

/** The usage fields events carry, from a task's or step's running totals. */
export function usageTotals(u: Usage | undefined): Usage {
  return u
    ? { input_tokens: u.input_tokens, output_tokens: u.output_tokens, cached_tokens: u.cached_tokens, cost_usd: u.cost_usd }
    : { ...ZERO_USAGE };
}

export function sinceMs(iso: string | null): number | null {
  return iso ? Math.max(0, Date.now() - Date.parse(iso)) : null;
}
