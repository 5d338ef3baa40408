/**
 * Planning with a model: ask for a structured plan (JSON matching `planSchema`), check it with the
 * engine's own validation, and when it is unusable (not JSON, wrong shape, a cycle, an unknown
 * agent or tool …) send the problems back and ask again, at most `MAX_PLAN_REPAIRS` times. Then
 * PLAN_INVALID, which is not retried: the same model would most likely fail the same way.
 */
import { generateText, NoObjectGeneratedError, Output, type LanguageModelUsage, type ModelMessage } from 'ai';
import { z } from 'zod';
import { planLimits, planProblems } from '../../engine/plan-validation.js';
import { AppError } from '../../errors.js';
import type { BrainResult, ModelUsage, PlanProposal, PlanRequest, ReplanRequest } from '../types.js';
import { callWithFallback, type CallPolicy, type ModelHandle } from './call.js';
import { addUsage } from './prices.js';
import { planSystemPrompt, planUserPrompt, repairPrompt } from './prompts.js';

/** Corrections asked for after the first plan. */
export const MAX_PLAN_REPAIRS = 2;

/** The plan the model must return. Every field is required: OpenAI's strict structured outputs want it so. */
export const planSchema = z.object({
  rationale: z.string().describe('One or two sentences on why the plan fits the task.'),
  steps: z.array(
    z.object({
      id: z.string().describe('Unique id: letters, digits, - or _.'),
      agent: z.string().describe('The agent that does the step.'),
      title: z.string().describe('A short title.'),
      instruction: z.string().describe('What the step must produce.'),
      depends_on: z.array(z.string()).describe('Ids of the steps whose output this step needs.'),
      success_criteria: z.array(z.string()).describe('Checkable statements the output must satisfy.'),
      tools: z.array(z.string()).describe('Tools the step is expected to use.'),
    }),
  ),
});

/** What one planning call produced: a plan, or the text that was not one. */
type PlanReply = { plan: PlanProposal; text: string; usage: LanguageModelUsage } | { plan: null; text: string; error: string; usage: LanguageModelUsage | undefined };

/** Settings the planner needs besides the chain. */
export interface PlanDeps {
  policy: CallPolicy;
  maxOutputTokens: number;
  /** Usage and cost of one call of `handle`. */
  usage(handle: ModelHandle, usage: LanguageModelUsage | undefined): ModelUsage;
}

/** Asks the chain for a valid plan, repairing invalid ones; throws PLAN_INVALID after MAX_PLAN_REPAIRS corrections. */
export async function planWithModel(chain: ModelHandle[], request: PlanRequest | ReplanRequest, deps: PlanDeps, signal: AbortSignal): Promise<BrainResult<PlanProposal>> {
  const system = planSystemPrompt(request);
  const messages: ModelMessage[] = [{ role: 'user', content: planUserPrompt(request) }];
  const limits = planLimits(request);
  let total: ModelUsage | undefined;
  let problems: string[] = [];
  for (let round = 0; round <= MAX_PLAN_REPAIRS; round++) {
    const { value: reply, handle } = await callWithFallback(chain, deps.policy, signal, (h, s) => askForPlan(h, system, messages, deps.maxOutputTokens, s));
    total = addUsage(total, deps.usage(handle, reply.usage));
    problems = reply.plan ? planProblems(reply.plan, limits) : [`the answer is not a plan matching the schema (${reply.error})`];
    if (problems.length === 0 && reply.plan) return { value: reply.plan, usage: total };
    messages.push({ role: 'assistant', content: reply.text || '(empty)' }, { role: 'user', content: repairPrompt(problems) });
  }
  throw new AppError('PLAN_INVALID', `The model's plan is still invalid after ${MAX_PLAN_REPAIRS} corrections: ${problems.join('; ')}`, {
    details: { problems, attempts: MAX_PLAN_REPAIRS + 1, ...(total ? { usage: total } : {}) },
  });
}

/** One planning call. A reply that is not a schema-conforming plan comes back as data, to be repaired. */
async function askForPlan(handle: ModelHandle, system: string, messages: ModelMessage[], maxOutputTokens: number, signal: AbortSignal): Promise<PlanReply> {
  try {
    const result = await generateText({
      model: handle.model,
      system,
      messages,
      output: Output.object({ schema: planSchema, name: 'plan', description: 'The plan for the task' }),
      maxOutputTokens,
      maxRetries: 0,
      abortSignal: signal,
    });
    return { plan: result.output, text: result.text, usage: result.usage };
  } catch (err) {
    if (!NoObjectGeneratedError.isInstance(err)) throw err;
    const reason = err.cause instanceof Error ? err.cause.message : err.message;
    return { plan: null, text: err.text ?? '', error: reason.slice(0, 500), usage: err.usage };
  }
}
