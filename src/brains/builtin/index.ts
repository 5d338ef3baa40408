/**
 * The built-in brain: what agentic uses when no language model is configured. Deterministic rules
 * read the task, build a plan and drive the real tools (knowledge_search, data_profile,
 * calculator, sql_query, send_email); the writer's report says near its top that no model was
 * involved (BUILTIN_NOTICE).
 *
 * Rules, in order of precedence: a CSV attached → profile it (and group "by <column>"); "compare X
 * and Y" / "X vs Y" → two parallel searches, a comparison, a side-by-side report; "summarize" →
 * broad search, extractive summary; a question or research request about documents → search, key
 * points, report; a quantity ("15% of 2400 plus 12") → calculator, result; anything else → search,
 * report. A computation mixed into another kind of task becomes an extra parallel step.
 *
 * Email, on top of any rule: a request to send the result to addresses ("email the summary to
 * ops@example.com", "send it to a@x.com and b@y.com, cc c@z.com") is taken out of the task before
 * the rules read it. With send_email in the registry, a last writer step sends the report once
 * and the task's answer is the report with an "Email" section: sent to whom with the message id, or
 * not sent and why (rejected at approval, failed); a CSV analysis then also gets an SQL step
 * (sql_query: row count, sums and averages, per group with "by <column>") beside the profile when
 * sql_query exists. Without send_email the plan is the rule's alone and the report says email is
 * not configured (SMTP_URL).
 */
import type {
  Brain,
  BrainCallContext,
  BrainResult,
  DecideRequest,
  Decision,
  ModelUsage,
  PlanProposal,
  PlanRequest,
} from '../types.js';
import { decideStep } from './decide.js';
import { buildPlan } from './planner.js';

export { BUILTIN_NOTICE } from './notice.js';
export { buildPlan } from './planner.js';
export { decideStep } from './decide.js';
export { toExpression } from './expression.js';

/** The usage the built-in brain reports for every call: nothing, since no model runs. */
export const BUILTIN_USAGE: Readonly<ModelUsage> = Object.freeze({
  model: 'builtin',
  input_tokens: 0,
  output_tokens: 0,
  cached_tokens: 0,
  cost_usd: 0,
});

/** The rule-based brain. Same request, same answer; no network, no randomness. */
export class BuiltinBrain implements Brain {
  /** Shown in /health and events. */
  readonly name = 'builtin';

  /** Plans the task by the first rule that fits (see the module comment). */
  async plan(request: PlanRequest, ctx: BrainCallContext): Promise<BrainResult<PlanProposal>> {
    ctx.signal.throwIfAborted();
    return { value: buildPlan(request), usage: { ...BUILTIN_USAGE } };
  }

  /** Decides the next action of a step: its planned calls, a follow-up call, or its final output. */
  async decide(request: DecideRequest, ctx: BrainCallContext): Promise<BrainResult<Decision>> {
    return { value: decideStep(request, ctx), usage: { ...BUILTIN_USAGE } };
  }
}

/** Creates the built-in brain. */
export function createBuiltinBrain(): Brain {
  return new BuiltinBrain();
}
