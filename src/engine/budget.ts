/**
 * Hard budgets: before each model call the engine reserves the call's worst case (prompt estimate
 * plus the output limit, times the calls the brain may make for it), clipped to what the task has
 * left; the call's output limit shrinks to fit, and when not even a short answer fits, the call is
 * not made and the task ends with BUDGET_EXCEEDED. The reservation is held on the step (or on the
 * task, for planning) until the call settles, so parallel steps on any worker see each other's
 * calls in flight; a step taken over by another worker starts with its reservation cleared.
 */
import type { CallEstimate } from '../brains/types.js';
import { AppError } from '../errors.js';
import type { StepRecord, TaskRecord, TaskWriter } from '../store/types.js';
import { commit, type EngineContext, type TaskLimits } from './context.js';

/** The shortest answer worth asking for, tokens. */
const MIN_OUTPUT_TOKENS = 32;

/**
 * Reserves budget for one brain call of the task (`stepId` null: planning). Returns the output limit
 * the call must keep to, or undefined when the task has no budget or the brain costs nothing.
 */
export async function reserveBudget(
  ctx: EngineContext,
  taskId: string,
  stepId: string | null,
  limits: TaskLimits,
  estimate: CallEstimate | undefined,
): Promise<number | undefined> {
  if (!estimate || (limits.budgetTokens === undefined && limits.budgetUsd === undefined)) return undefined;
  return commit(ctx, taskId, async (w) => {
    const used = await w.usage();
    const others = heldByOthers(w.task, await w.listSteps(), stepId);
    const output = outputThatFits(estimate, limits, used.input_tokens + used.output_tokens + others.tokens, used.cost_usd + others.usd);
    if (output < MIN_OUTPUT_TOKENS) throw exceeded(limits, used.input_tokens + used.output_tokens, used.cost_usd);
    const hold = {
      reserved_tokens: estimate.calls * (estimate.prompt_tokens + output),
      reserved_usd: estimate.calls * (estimate.prompt_tokens * estimate.usd_per_input_token + output * estimate.usd_per_output_token),
    };
    if (stepId === null) await w.updateTask(hold);
    else await w.updateStep(stepId, hold);
    return output;
  });
}

/** Releases a reservation inside the transaction that records the call's real usage. */
export async function settleBudget(w: TaskWriter, stepId: string | null): Promise<void> {
  const cleared = { reserved_tokens: 0, reserved_usd: 0 };
  if (stepId === null) await w.updateTask(cleared);
  else await w.updateStep(stepId, cleared);
}

function heldByOthers(task: TaskRecord, steps: StepRecord[], stepId: string | null): { tokens: number; usd: number } {
  const holders = [...(stepId === null ? [] : [task]), ...steps.filter((s) => s.id !== stepId)];
  return holders.reduce((sum, h) => ({ tokens: sum.tokens + h.reserved_tokens, usd: sum.usd + h.reserved_usd }), { tokens: 0, usd: 0 });
}

/** The largest output limit (up to the brain's own) whose worst case fits in what is left. */
function outputThatFits(e: CallEstimate, limits: TaskLimits, tokensTaken: number, usdTaken: number): number {
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
