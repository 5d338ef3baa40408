/**
 * Re-planning. When a step fails for good, or the task's result misses the task, and the brain can
 * revise plans, the engine asks for a revised plan instead of failing the task: steps of the plan
 * in force that have not started are cancelled (REPLANNED), running ones may finish, then the task
 * goes back to `planning` with the reason recorded and a plan job asks the brain for version N+1
 * given what every step did. The revision may reuse completed steps' outputs by depending on them.
 * Bounded by `max_replans`; every plan is kept.
 */
import { AppError, type ErrorInfo } from '../errors.js';
import type { Job } from '../queue/types.js';
import type { ReplanReason, StepRecord, TaskRecord, TaskWriter } from '../store/types.js';
import type { EngineContext, TaskLimits } from './context.js';
import { isFinalStep, sinceMs, stepsInForce } from './scheduling.js';

/**
 * Failures a new plan cannot help with: the task (or its tenant) is out of time or money, was stopped, or a side
 * effect may have happened (a new plan could repeat it); and failures of the service or provider
 * themselves, which a new plan would meet again.
 */
const NOT_REPLANNABLE: ReadonlySet<string> = new Set([
  'CANCELLED',
  'DEADLINE_EXCEEDED',
  'BUDGET_EXCEEDED',
  'QUOTA_EXCEEDED',
  'TOOL_DENIED',
  'SIDE_EFFECT_UNCERTAIN',
  'STORE_ERROR',
  'NOT_READY',
  'MODEL_RATE_LIMITED',
  'MODEL_UNAVAILABLE',
  'REPLANNED',
]);

/** Whether a task whose plan did not do may get a revised plan instead of failing. */
export function mayReplan(ctx: EngineContext, task: Pick<TaskRecord, 'plan_version'>, limits: TaskLimits, error: ErrorInfo): boolean {
  return ctx.brain.replan !== undefined && task.plan_version - 1 < limits.maxReplans && !NOT_REPLANNABLE.has(error.code);
}

/**
 * Inside the transaction that found the plan wanting: steps not started yet are superseded at once
 * (cancelled with REPLANNED); steps already running may finish, since a revision can use their
 * output. When none is running, the task goes back to planning. Returns the jobs to dispatch.
 */
export async function replanWhenIdle(w: TaskWriter, reason: ReplanReason): Promise<Job[]> {
  // The first reason stands; a second failure while waiting adds nothing the step list does not show.
  if (!w.task.replan_reason) await w.updateTask({ replan_reason: reason });
  for (const step of stepsInForce(await w.listSteps(), w.task.plan_version)) {
    if (!isFinalStep(step) && step.status !== 'running') await supersede(w, step);
  }
  return replanIfIdle(w);
}

/** Called when a step completes while a revision waits for the running steps: starts it once they are done. */
export async function replanIfIdle(w: TaskWriter): Promise<Job[]> {
  const running = stepsInForce(await w.listSteps(), w.task.plan_version).some((s) => s.status === 'running');
  return running ? [] : beginReplanning(w);
}

async function beginReplanning(w: TaskWriter): Promise<Job[]> {
  const reason = w.task.replan_reason!;
  const version = w.task.plan_version + 1;
  // Nothing of the old plan may run on: steps that parked meanwhile (waiting) are superseded too.
  for (const step of stepsInForce(await w.listSteps(), w.task.plan_version)) {
    if (!isFinalStep(step)) await supersede(w, step);
  }
  const superseded = stepsInForce(await w.listSteps(), w.task.plan_version)
    .filter((s) => s.status === 'cancelled' && s.error?.code === 'REPLANNED')
    .map((s) => s.id);
  await w.updateTask({ status: 'planning', lease_owner: null, lease_expires_at: null });
  await w.append({ type: 'replanning', data: { version, ...reason, superseded } });
  return [{ kind: 'plan', taskId: w.task.id }];
}

/**
 * Parks a running step as `waiting`, without its lease (a manager that delegated, a call waiting for
 * approval). While a revision is pending the step is superseded instead, and the revision starts if it
 * was the last running step: returns the jobs of that, or null when the step parked. NOT_READY when
 * the step is no longer `owner`'s to run.
 */
export async function parkStep(w: TaskWriter, stepId: string, owner: string): Promise<Job[] | null> {
  const step = (await w.listSteps()).find((s) => s.id === stepId);
  if (step?.status !== 'running' || step.lease_owner !== owner) throw new AppError('NOT_READY', `Step ${stepId} is no longer this worker's to run`);
  if (w.task.replan_reason) {
    await supersede(w, step);
    return replanIfIdle(w);
  }
  await w.updateStep(stepId, { status: 'waiting', lease_owner: null, lease_expires_at: null });
  return null;
}

async function supersede(w: TaskWriter, step: StepRecord): Promise<void> {
  const error = { code: 'REPLANNED', message: `Superseded: the plan is being revised`, details: { plan_version: step.plan_version } };
  await w.updateStep(step.id, { status: 'cancelled', error, completed_at: new Date().toISOString(), lease_owner: null, lease_expires_at: null });
  await w.append({ type: 'step_failed', step_id: step.id, data: { attempt: step.attempt, error, duration_ms: sinceMs(step.started_at) } });
}
