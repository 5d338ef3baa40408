/**
 * Planning: the task moves pending → planning, the brain proposes a plan, the plan is validated
 * (no cycles, known agents and tools, size limit) and stored as version 1 with its steps, and the
 * steps that may start are dispatched. An invalid plan fails the task with PLAN_INVALID.
 *
 * The same job makes revised plans (see replanning.ts): a task back in `planning` with plan
 * version N gets version N+1 from the brain's `replan`, given what every earlier step did.
 */
import { AGENTS } from '../agents/index.js';
import type { BrainResult, PlannedStep, PlanProposal, PlanRequest, ReplanRequest, TaskBrief } from '../brains/types.js';
import { AppError, toAppError } from '../errors.js';
import type { TaskRecord } from '../store/types.js';
import { dispatch, commit, taskLimits, type EngineContext, type TaskLimits } from './context.js';
import { settleBudget, settleFailedCall, reserveBudget } from './budget.js';
import { endTask } from './lifecycle.js';
import { promoteSteps } from './scheduling.js';
import { freshStepIds, planLimits, validatePlan } from './plan-validation.js';
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
    const { proposal, request } = await proposePlan(ctx, task, limits, signal);
    const steps = validatePlan(proposal.value, planLimits(request));
    const taken = new Set('revision' in request ? request.revision.steps.map((s) => s.id) : []);
    await storePlan(ctx, task, proposal, freshStepIds(steps, taken, task.plan_version + 1), limits);
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
 * task at a time); or, for a task back in planning for a revision, the lease alone. Returns null
 * when the task is not waiting to be planned or another worker is on it.
 */
async function beginPlanning(ctx: EngineContext, taskId: string): Promise<TaskRecord | null> {
  return commit(ctx, taskId, async (w) => {
    const t = w.task;
    const waiting = (t.status === 'pending' && t.plan_version === 0) || t.status === 'planning';
    if (!t.queued_at || !waiting) return null;
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

interface Proposed {
  proposal: BrainResult<PlanProposal>;
  request: PlanRequest | ReplanRequest;
}

/** Asks the brain for a plan (or a revised one), retrying retryable failures with backoff. */
async function proposePlan(ctx: EngineContext, task: TaskRecord, limits: TaskLimits, signal: AbortSignal): Promise<Proposed> {
  const files = (await Promise.all(task.files.map((id) => ctx.store.getFile(id, task.tenant_id)))).filter((f) => f !== null);
  const brief: TaskBrief = { id: task.id, input: task.input, files, options: task.options };
  const base: PlanRequest = { task: brief, agents: AGENTS, tools: ctx.tools.list(task.tenant_id), maxSteps: limits.maxSteps };
  const revision = task.plan_version === 0 ? null : await revisionRequest(ctx, task, base);
  for (let attempt = 1; ; attempt++) {
    let maxOutputTokens: number | undefined;
    try {
      maxOutputTokens = await reserveBudget(ctx, task, null, limits, ctx.brain.estimate?.('plan', revision ?? base));
      const call = { signal, emitPartial: () => undefined, maxOutputTokens };
      if (revision && ctx.brain.replan) return { proposal: await ctx.brain.replan(revision, call), request: revision };
      return { proposal: await ctx.brain.plan(base, call), request: base };
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const error = toAppError(err, 'BRAIN_ERROR');
      if (error.code !== 'BUDGET_EXCEEDED') {
        await settleFailedCall(ctx, task.id, { stepId: null, reserved: maxOutputTokens !== undefined, purpose: 'plan' }, error);
      }
      if (!error.retryable || attempt >= limits.retryAttempts) throw error;
      await sleep(backoffDelay(attempt, ctx.config.retryBaseMs, ctx.config.retryCapMs), signal);
    }
  }
}

/** What every step of the earlier plans did, and why the last one did not do. */
async function revisionRequest(ctx: EngineContext, task: TaskRecord, base: PlanRequest): Promise<ReplanRequest> {
  const steps = await ctx.store.listSteps(task.id);
  const reason = task.replan_reason ?? { trigger: 'step_failed' as const, error: { code: 'REPLANNED', message: 'The plan did not complete' } };
  return {
    ...base,
    revision: {
      version: task.plan_version + 1,
      reason,
      steps: steps.map((s) => ({
        id: s.id,
        plan_version: s.plan_version,
        agent: s.agent,
        title: s.title,
        instruction: s.instruction,
        status: s.status,
        ...(s.output ? { output: s.output.text } : {}),
        ...(s.error ? { error: s.error } : {}),
      })),
    },
  };
}

async function storePlan(ctx: EngineContext, task: TaskRecord, proposal: BrainResult<PlanProposal>, steps: PlannedStep[], limits: TaskLimits): Promise<void> {
  const version = task.plan_version + 1;
  const ready = await commit(ctx, task.id, async (w) => {
    if (w.task.status !== 'planning' || w.task.plan_version !== version - 1) return [];
    const reason = version > 1 ? w.task.replan_reason : null;
    if (proposal.usage) await w.recordUsage({ ...proposal.usage, purpose: 'plan' });
    await w.insertPlan(version, ctx.brain.name, proposal.value.rationale ?? '', steps, reason);
    await w.updateTask({ status: 'running', plan_version: version, replan_reason: null, lease_owner: null, lease_expires_at: null });
    if (w.task.reserved_tokens > 0 || w.task.reserved_usd > 0) await settleBudget(w, null);
    await w.append({
      type: 'plan_created',
      data: {
        version,
        brain: ctx.brain.name,
        rationale: proposal.value.rationale ?? '',
        steps: steps.map((s) => ({ id: s.id, agent: s.agent, title: s.title, depends_on: s.depends_on, tools: s.tools })),
        ...(reason ? { reason } : {}),
      },
    });
    return promoteSteps(w, await w.listSteps(), limits.maxParallelSteps);
  });
  await dispatch(ctx, ready.map((stepId) => ({ kind: 'step' as const, taskId: task.id, stepId })));
}

/** Planning failed: the task fails with the planner's error (saying, for a revision, what it was revising). */
async function failPlanning(ctx: EngineContext, taskId: string, error: AppError): Promise<void> {
  ctx.logger.error({ task_id: taskId, code: error.code, err: error.message }, 'planning failed');
  await commit(ctx, taskId, async (w) => {
    if (w.task.status !== 'planning') return;
    const reason = w.task.replan_reason;
    const info = reason
      ? { code: error.code, message: `Re-planning failed: ${error.message} (after: ${reason.error.message})`, details: { ...error.details, replanning: reason } }
      : error.toInfo();
    await endTask(w, { kind: 'failed', error: info });
  });
}
