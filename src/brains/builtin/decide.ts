/**
 * decide() of the built-in brain. Turn 0 of a step with planned calls makes them; every later turn
 * goes to the step's handler, which asks for a follow-up or finalizes. Follow-ups are bounded (by
 * the iteration budget and by MAX_TOOL_TURNS), so a step always ends.
 */
import { AppError } from '../../errors.js';
import type { BrainCallContext, DecideRequest, Decision, StepOutput, ToolCallRequest } from '../types.js';
import { compareStep } from './compare-step.js';
import { computeStep } from './compute-step.js';
import { emailStep } from './email-step.js';
import { keyPointsStep } from './key-points-step.js';
import { StepParamsSchema, type StepParams } from './params.js';
import { queryFor } from './planner.js';
import { profileStep } from './profile-step.js';
import { composeReport } from './report.js';
import { allObservations } from './results.js';
import { searchStep } from './search-step.js';
import { sqlStep } from './sql-step.js';
import { finalOutcome, type StepInput, type StepOutcome } from './step-input.js';
import { topicOf } from './text.js';

/** No built-in step needs more tool turns than this (profile, group, derive; schema, analysis); a guard against surprises. */
export const MAX_TOOL_TURNS = 4;

/**
 * The step's params, or params inferred from the agent when the plan did not come from the
 * built-in planner (a model made it, or it was edited): writers report, others search.
 */
export function stepParamsOf(request: DecideRequest): StepParams {
  const parsed = StepParamsSchema.safeParse(request.step.params);
  if (parsed.success) return parsed.data;
  const canSearch = request.tools.some((t) => t.name === 'knowledge_search');
  if (request.agent.name === 'writer' || !canSearch) return { kind: 'report', style: 'report' };
  const query = queryFor(topicOf(request.step.instruction || request.step.title), request.task.input);
  return { kind: 'search', queries: [{ query }], limit: 5, calls: [{ tool: 'knowledge_search', args: { query, limit: 5 } }] };
}

function stepInput<P extends StepParams>(request: DecideRequest, params: P): StepInput<P> {
  const available = new Set(request.tools.map((t) => t.name));
  const canCall = request.turn + 1 < request.maxIterations && request.history.length < MAX_TOOL_TURNS;
  const planned = params.calls ?? [];
  const called = new Set(allObservations(request.history).map((o) => o.tool));
  const startable = request.history.length > 0 || canCall;
  const notRun = [...new Set(planned.map((c) => c.tool))].filter((t) => !called.has(t) && (!available.has(t) || !startable));
  return { request, params, observations: allObservations(request.history), canCall, available, notRun };
}

/** Turn 0's planned calls that this step may make, or null when there are none to make. */
function firstCalls(input: StepInput<StepParams>): ToolCallRequest[] | null {
  if (input.request.history.length > 0 || !input.canCall) return null;
  const calls = (input.params.calls ?? []).filter((c) => input.available.has(c.tool));
  return calls.length > 0 ? calls : null;
}

function runHandler(input: StepInput<StepParams>): StepOutcome {
  const { params } = input;
  switch (params.kind) {
    case 'search':
      return searchStep({ ...input, params });
    case 'key_points':
      return keyPointsStep({ ...input, params });
    case 'profile':
      return profileStep({ ...input, params });
    case 'compute':
      return computeStep({ ...input, params });
    case 'compare':
      return compareStep({ ...input, params });
    case 'sql':
      return sqlStep({ ...input, params });
    case 'email':
      return emailStep({ ...input, params });
    case 'report': {
      const output = composeReport(input.request.task, input.request.dependencies, params.style, params.unsent_email);
      return finalOutcome(`Wrote the report from ${input.request.dependencies.length} earlier steps.`, output.text, output.sources);
    }
  }
}

/** When the whole plan is this one step, wraps its output into the final report. */
function asReport(request: DecideRequest, params: StepParams, output: StepOutput): StepOutput {
  if (!params.report_style || params.kind === 'report') return output;
  const self = { step_id: request.step.id, agent: request.agent.name, title: request.step.title, output };
  const report = composeReport(request.task, [self], params.report_style, params.unsent_email);
  return output.data === undefined ? report : { ...report, data: output.data };
}

/** Splits a report into sections (at headings) for streaming; the pieces join back to the whole text. */
export function streamChunks(text: string): string[] {
  return text.split(/(?=\n\n#{1,4} )/).filter((chunk) => chunk.length > 0);
}

function emitInChunks(text: string, ctx: BrainCallContext): void {
  for (const chunk of streamChunks(text)) {
    ctx.signal.throwIfAborted();
    ctx.emitPartial(chunk);
  }
}

/** Decides the next action of a built-in step. Deterministic; throws if the signal is aborted. */
export function decideStep(request: DecideRequest, ctx: BrainCallContext): Decision {
  ctx.signal.throwIfAborted();
  const params = stepParamsOf(request);
  const input = stepInput(request, params);
  const calls = firstCalls(input);
  if (calls) return { type: 'tool_calls', thought: `Running the planned ${[...new Set(calls.map((c) => c.tool))].join(', ')} calls.`, calls };
  let outcome = runHandler(input);
  if (outcome.type === 'calls') {
    const allowed = outcome.calls.filter((c) => input.available.has(c.tool));
    if (input.canCall && allowed.length > 0) return { type: 'tool_calls', thought: outcome.thought, calls: allowed };
    // A handler asked for something it may not have; finalize with what there is rather than loop.
    outcome = runHandler({ ...input, canCall: false });
  }
  if (outcome.type === 'calls') throw new AppError('BRAIN_ERROR', 'Built-in step handler asked for tools after being told to finish', { retryable: false });
  const output = asReport(request, params, outcome.output);
  emitInChunks(output.text, ctx);
  return { type: 'final', thought: outcome.thought, output };
}
