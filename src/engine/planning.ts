/**
 * Planning: the task moves pending → planning, the brain proposes a plan, the plan is validated
 * (no cycles, known agents and tools, size limit) and stored as version 1 with its steps, and the
 * steps that may start are dispatched. An invalid plan fails the task with PLAN_INVALID.
 */
import { AGENTS } from '../agents/index.js';
import type { BrainResult, PlannedStep, PlanProposal, TaskBrief } from '../brains/types.js';
import { AppError, toAppError } from '../errors.js';
import type { TaskRecord } from '../store/types.js';
import { dispatch, commit, taskLimits, type EngineContext, type TaskLimits } from './context.js';
import { settleBudget, reserveBudget } from './budget.js';
import { endTask, promoteSteps } from './lifecycle.js';
import { validatePlan } from './plan-validation.js';
import { backoffDelay, sleep } from './retry.js';
import { deadlineError } from './step-runner.js';
import type { LeaseKeeper } from './lease-keeper.js';
import type { TaskSignals } from './task-signals.js';

export async function runPlanJob(ctx: EngineContext, deps: { signals: TaskSignals; leases: LeaseKeeper }, taskId: string): Promise<void> {
  const task = await beginPlanning(ctx, taskId).catch((err: unknown) => {
    if (err instanceof AppError && err.code === 'TASK_NOT_FOUND') return null;
    throw err;
  });
  if (!task) return;
  const limits = taskLimits(task, ctx.config);
  const remaining = Date.parse(task.deadline_at!) - Date.now();
  const lease = deps.leases.track(taskId);
  const taskSignal = await deps.signals.acquire(taskId);
  const local = new AbortController();
  const deadline = setTimeout(() => local.abort(deadlineError(limits)), Math.max(0, remaining));
  const signal = AbortSignal.any([taskSignal.signal, lease.signal, local.signal]);
  try {
    const proposal = await proposePlan(ctx, task, limits, signal);
    const steps = validatePlan(proposal.value, { agents: AGENTS, tools: new Set(ctx.tools.names()), maxSteps: limits.maxSteps });
    await storePlan(ctx, task, proposal, steps, limits);
  } catch (err) {
    const reason = signal.aborted ? signal.reason : err;
    if (reason instanceof AppError && (reason.code === 'CANCELLED' || reason.code === 'NOT_READY')) return;
    // An unreachable store is not the plan's fault: the job is offered again (see Engine.handle).
    if (reason instanceof AppError && reason.code === 'STORE_ERROR') throw reason;
    await failPlanning(ctx, taskId, toAppError(reason, 'BRAIN_ERROR'));
  } finally {
    clearTimeout(deadline);
    lease.release();
    taskSignal.release();
  }
}

/**
 * pending → planning, with planning_started, under a planning lease (so that one worker plans a
 * task at a time). Returns null when the task is not waiting to be planned or another worker is on it.
 */
async function beginPlanning(ctx: EngineContext, taskId: string): Promise<TaskRecord | null> {
  return commit(ctx, taskId, async (w) => {
    const t = w.task;
    if (!t.queued_at || (t.status !== 'pending' && t.status !== 'planning') || t.plan_version > 0) return null;
    const now = w.now().getTime();
    const heldByOther = t.lease_owner !== null && t.lease_owner !== ctx.workerId && Date.parse(t.lease_expires_at ?? '') > now;
    if (heldByOther) return null;
    const started_at = t.started_at ?? new Date().toISOString();
    const deadline_at = t.deadline_at ?? new Date(Date.parse(started_at) + taskLimits(t, ctx.config).timeoutMs).toISOString();
    const lease_expires_at = new Date(now + ctx.config.leaseMs).toISOString();
    await w.updateTask({ status: 'planning', started_at, deadline_at, brain: ctx.brain.name, lease_owner: ctx.workerId, lease_expires_at });
    if (t.status === 'pending') await w.append({ type: 'planning_started', data: { brain: ctx.brain.name, deadline_at } });
    return w.task;
  });
}

/** Asks the brain for a plan, retrying retryable failures with backoff. */
async function proposePlan(ctx: EngineContext, task: TaskRecord, limits: TaskLimits, signal: AbortSignal): Promise<BrainResult<PlanProposal>> {
  const files = (await Promise.all(task.files.map((id) => ctx.store.getFile(id, task.tenant_id)))).filter((f) => f !== null);
  const brief: TaskBrief = { id: task.id, input: task.input, files, options: task.options };
  const request = { task: brief, agents: AGENTS, tools: ctx.tools.list(), maxSteps: limits.maxSteps };
  for (let attempt = 1; ; attempt++) {
    try {
      const maxOutputTokens = await reserveBudget(ctx, task.id, null, limits, ctx.brain.estimate?.('plan', request));
      return await ctx.brain.plan(request, { signal, emitPartial: () => undefined, maxOutputTokens });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const error = toAppError(err, 'BRAIN_ERROR');
      if (!error.retryable || attempt >= limits.retryAttempts) throw error;
      await sleep(backoffDelay(attempt, ctx.config.retryBaseMs, ctx.config.retryCapMs), signal);
    }
  }
}

async function storePlan(ctx: EngineContext, task: TaskRecord, proposal: BrainResult<PlanProposal>, steps: PlannedStep[], limits: TaskLimits): Promise<void> {
  const ready = await commit(ctx, task.id, async (w) => {
    if (w.task.status !== 'planning' || w.task.plan_version !== 0) return [];
    if (proposal.usage) await w.recordUsage({ ...proposal.usage, purpose: 'plan' });
    await w.insertPlan(1, ctx.brain.name, proposal.value.rationale ?? '', steps);
    await w.updateTask({ status: 'running', plan_version: 1, lease_owner: null, lease_expires_at: null });
    if (w.task.reserved_tokens > 0 || w.task.reserved_usd > 0) await settleBudget(w, null);
    await w.append({
      type: 'plan_created',
      data: {
        version: 1,
        brain: ctx.brain.name,
        rationale: proposal.value.rationale ?? '',
        steps: steps.map((s) => ({ id: s.id, agent: s.agent, title: s.title, depends_on: s.depends_on, tools: s.tools })),
      },
    });
    return promoteSteps(w, await w.listSteps(), limits.maxParallelSteps);
  });
  await dispatch(ctx, ready.map((stepId) => ({ kind: 'step' as const, taskId: task.id, stepId })));
}

async function failPlanning(ctx: EngineContext, taskId: string, error: AppError): Promise<void> {
  ctx.logger.error({ task_id: taskId, code: error.code, err: error.message }, 'planning failed');
  await commit(ctx, taskId, async (w) => {
    if (w.task.status !== 'planning') return;
    await endTask(w, { kind: 'failed', error: error.toInfo() });
  });
}
