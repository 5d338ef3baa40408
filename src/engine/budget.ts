/**
 * Hard budgets: before each model call the engine reserves the call's worst case (prompt estimate
 * plus the output limit, times the calls the brain may make for it), clipped to what the task has
 * left; the call's output limit shrinks to fit, and when not even a short answer fits, the call is
 * not made and the task ends with BUDGET_EXCEEDED. The reservation is held on the step (or on the
 * task, for planning) until the call settles, so parallel steps on any worker see each other's
 * calls in flight; a step taken over by another worker starts with its reservation cleared. A tenant's
 * daily quota (quotas.ts) is reserved against the same way, over all the tenant's tasks.
 */
import type { CallEstimate, ModelUsage } from '../brains/types.js';
import { AppError } from '../errors.js';
import type { StepRecord, TaskRecord, TaskWriter, UsageRecord } from '../store/types.js';
import { commit, type EngineContext, type TaskLimits } from './context.js';
import { quotasFor } from './quotas.js';

/** The shortest answer worth asking for, tokens. */
const MIN_OUTPUT_TOKENS = 32;

/**
 * Reserves budget for one brain call of the task (`stepId` null: planning), within the task's budget
 * and its tenant's daily quota. Returns the output limit the call must keep to, or undefined when
 * neither limits the task or the brain costs nothing.
 */
export async function reserveBudget(
  ctx: EngineContext,
  task: Pick<TaskRecord, 'id' | 'tenant_id'>,
  stepId: string | null,
  limits: TaskLimits,
  estimate: CallEstimate | undefined,
): Promise<number | undefined> {
  const daily = dailyQuota(ctx, task.tenant_id);
  if (!estimate || (limits.budgetTokens === undefined && limits.budgetUsd === undefined && !daily)) return undefined;
  return commit(ctx, task.id, async (w) => {
    const used = await w.usage();
    const others = heldByOthers(w.task, await w.listSteps(), stepId);
    let output = outputThatFits(estimate, limits, used.input_tokens + used.output_tokens + others.tokens, used.cost_usd + others.usd);
    if (output < MIN_OUTPUT_TOKENS) throw exceeded(limits, used.input_tokens + used.output_tokens, used.cost_usd);
    if (daily) {
      // The tenant's spend counts this task's use and reservations too; the step's own is released by now.
      const spend = await w.tenantSpend();
      const fits = outputThatFits(estimate, daily, spend.tokens, spend.usd);
      if (fits < MIN_OUTPUT_TOKENS) throw quotaExceeded(task.tenant_id, daily, spend);
      output = Math.min(output, fits);
    }
    const hold = {
      reserved_tokens: estimate.calls * (estimate.prompt_tokens + output),
      reserved_usd: estimate.calls * (estimate.prompt_tokens * estimate.usd_per_input_token + output * estimate.usd_per_output_token),
    };
    if (stepId === null) await w.updateTask(hold);
    else await w.updateStep(stepId, hold);
    return output;
  });
}

/** The tenant's daily limits as budgets, or null when it has none. */
function dailyQuota(ctx: EngineContext, tenantId: string): Budget | null {
  const q = quotasFor(ctx.config, tenantId);
  return q.tokensPerDay === undefined && q.usdPerDay === undefined ? null : { budgetTokens: q.tokensPerDay, budgetUsd: q.usdPerDay };
}

function quotaExceeded(tenantId: string, daily: Budget, spend: { tokens: number; usd: number }): AppError {
  const midnight = new Date();
  midnight.setUTCHours(24, 0, 0, 0);
  return new AppError('QUOTA_EXCEEDED', `Tenant ${tenantId}'s daily model quota does not allow another model call: ${Math.round(spend.tokens)} tokens and $${spend.usd.toFixed(6)} used or held today`, {
    details: {
      quota: 'model_per_day',
      tenant: tenantId,
      tokens_per_day: daily.budgetTokens ?? null,
      usd_per_day: daily.budgetUsd ?? null,
      used_tokens: Math.round(spend.tokens),
      used_usd: spend.usd,
      resets_at: midnight.toISOString(),
    },
  });
}

/** Releases a reservation inside the transaction that records the call's real usage. */
export async function settleBudget(w: TaskWriter, stepId: string | null): Promise<void> {
  const cleared = { reserved_tokens: 0, reserved_usd: 0 };
  if (stepId === null) await w.updateTask(cleared);
  else await w.updateStep(stepId, cleared);
}

/**
 * After a brain call failed: records what it consumed, when the brain reported it (`details.usage`),
 * and releases the call's reservation, in one commit. Nothing to do for a call that held nothing and
 * reported nothing (a refused connection, a 429).
 */
export async function settleFailedCall(
  ctx: EngineContext,
  taskId: string,
  call: { stepId: string | null; reserved: boolean; purpose: UsageRecord['purpose']; attempt?: number; turn?: number },
  error: AppError,
): Promise<void> {
  const usage = reportedUsage(error);
  if (!usage && !call.reserved) return;
  await commit(ctx, taskId, async (w) => {
    if (usage) {
      const where = call.stepId === null ? {} : { step_id: call.stepId, attempt: call.attempt, turn: call.turn };
      await w.recordUsage({ ...usage, purpose: call.purpose, ...where });
    }
    if (call.reserved) await settleBudget(w, call.stepId);
  });
}

function reportedUsage(error: AppError): ModelUsage | null {
  const u = error.details.usage as Partial<ModelUsage> | undefined;
  if (!u || typeof u.model !== 'string' || typeof u.input_tokens !== 'number' || typeof u.output_tokens !== 'number') return null;
  return { model: u.model, input_tokens: u.input_tokens, output_tokens: u.output_tokens, cached_tokens: u.cached_tokens ?? 0, cost_usd: u.cost_usd ?? 0 };
}

function heldByOthers(task: TaskRecord, steps: StepRecord[], stepId: string | null): { tokens: number; usd: number } {
  const holders = [...(stepId === null ? [] : [task]), ...steps.filter((s) => s.id !== stepId)];
  return holders.reduce((sum, h) => ({ tokens: sum.tokens + h.reserved_tokens, usd: sum.usd + h.reserved_usd }), { tokens: 0, usd: 0 });
}

/** A limit on tokens, cost or both. */
type Budget = Pick<TaskLimits, 'budgetTokens' | 'budgetUsd'>;

/** The largest output limit (up to the brain's own) whose worst case fits in what is left. */
function outputThatFits(e: CallEstimate, limits: Budget, tokensTaken: number, usdTaken: number): number {
  let output = e.max_output_tokens;
  if (limits.budgetTokens !== undefined) {
    output = Math.min(output, Math.floor((limits.budgetTokens - tokensTaken) / e.calls) - e.prompt_tokens);
  }
  if (limits.budgetUsd !== undefined && e.usd_per_output_token > 0) {
    const perCall = (limits.budgetUsd - usdTaken) / e.calls - e.prompt_tokens * e.usd_per_input_token;
    output = Math.min(output, Math.floor(perCall / e.usd_per_output_token));
  }
  return output;
}

function exceeded(limits: TaskLimits, usedTokens: number, usedUsd: number): AppError {
  const budget = [
    limits.budgetTokens !== undefined ? `${limits.budgetTokens} tokens` : null,
    limits.budgetUsd !== undefined ? `$${limits.budgetUsd}` : null,
  ]
    .filter(Boolean)
    .join(' / ');
  return new AppError(
    'BUDGET_EXCEEDED',
    `The task's budget (${budget}) does not allow another model call: ${usedTokens} tokens and $${usedUsd.toFixed(6)} used so far`,
    {
      details: { used_tokens: usedTokens, used_usd: usedUsd, budget_tokens: limits.budgetTokens ?? null, budget_usd: limits.budgetUsd ?? null },
    },
  );
}
