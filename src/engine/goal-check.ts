/**
 * The goal check, at the end of a step and of the task: deterministic checks first (an answer is
 * there; the success criteria that can be tested, i.e. the phrases a criterion quotes, appear in it),
 * then, when they pass and the brain has a judge, the judge's verdict. The verdict is journaled and
 * streamed as a goal_checked event. A step whose check fails goes on with the verdict as an
 * observation, so the brain can revise its answer within the step's turns.
 */
import type { BrainResult, JudgeRequest, Observation, PlannedStep, StepOutput, TaskBrief, Verdict } from '../brains/types.js';
import { toAppError } from '../errors.js';
import type { EventDataMap } from '../events/types.js';
import type { TaskWriter } from '../store/types.js';
import { reserveBudget, settleBudget, settleFailedCall } from './budget.js';
import type { EngineContext, TaskLimits } from './context.js';

/** A verdict, with what recording it needs: the judge's usage and whether budget was reserved for it. */
export type GoalVerdict = EventDataMap['goal_checked'] & { usage?: BrainResult<Verdict>['usage']; reserved?: boolean };

/** Phrases a criterion quotes ("…", “…” or `…`) must appear in the output, case aside. */
const QUOTED = /"([^"]{1,200})"|“([^”]{1,200})”|`([^`]{1,200})`/g;

export function deterministicChecks(criteria: string[], output: StepOutput): GoalVerdict['checks'] {
  const checks: GoalVerdict['checks'] = [{ name: 'answer', pass: output.text.trim().length > 0, detail: 'the output has text' }];
  const text = output.text.toLowerCase();
  for (const criterion of criteria) {
    const phrases = [...criterion.matchAll(QUOTED)].map((m) => (m[1] ?? m[2] ?? m[3])!);
    if (phrases.length === 0) continue;
    const missing = phrases.filter((p) => !text.includes(p.toLowerCase()));
    checks.push({ name: `criterion: ${criterion}`, pass: missing.length === 0, ...(missing.length ? { detail: `missing: ${missing.join(', ')}` } : {}) });
  }
  return checks;
}

export interface GoalSubject {
  task: TaskBrief;
  /** The task's tenant, whose daily quota the judge's call counts against. */
  tenantId: string;
  step: PlannedStep | null;
  criteria: string[];
  output: StepOutput;
  turn: number | null;
  limits: TaskLimits;
  signal: AbortSignal;
}

/** Runs the checks, then the judge (budgeted like any model call) when they pass and there is one. */
export async function checkGoal(ctx: EngineContext, subject: GoalSubject): Promise<GoalVerdict> {
  // A step's criteria are written to be checked; the task's own words are only for the judge.
  const checks = deterministicChecks(subject.step ? subject.criteria : [], subject.output);
  const base = { turn: subject.turn, checks };
  if (checks.some((c) => !c.pass)) return { ...base, pass: false };
  if (!ctx.brain.judge || subject.criteria.length === 0) return { ...base, pass: true };
  const request: JudgeRequest = { task: subject.task, step: subject.step, criteria: subject.criteria, output: subject.output };
  const stepId = subject.step?.id ?? null;
  const maxOutputTokens = await reserveBudget(ctx, { id: subject.task.id, tenant_id: subject.tenantId }, stepId, subject.limits, ctx.brain.estimate?.('judge', request));
  let result: BrainResult<Verdict>;
  try {
    result = await ctx.brain.judge(request, { signal: subject.signal, emitPartial: () => undefined, maxOutputTokens });
  } catch (err) {
    if (subject.signal.aborted) throw subject.signal.reason;
    const error = toAppError(err, 'BRAIN_ERROR');
    await settleFailedCall(ctx, subject.task.id, { stepId, reserved: maxOutputTokens !== undefined, purpose: 'judge', turn: subject.turn ?? undefined }, error);
    throw error;
  }
  const judge = { pass: result.value.pass, reasons: result.value.reasons, brain: ctx.brain.name };
  return { ...base, pass: judge.pass, judge, usage: result.usage, reserved: maxOutputTokens !== undefined };
}

/** The verdict as the observation the brain sees on its next turn. */
export function goalObservation(stepId: string, verdict: GoalVerdict): Observation {
  const failed = [...verdict.checks.filter((c) => !c.pass).map((c) => `${c.name}${c.detail ? ` (${c.detail})` : ''}`), ...(verdict.judge?.pass === false ? verdict.judge.reasons : [])];
  return {
    call_id: `${stepId}.${verdict.turn}.goal`,
    tool: 'goal_check',
    args: null,
    ok: verdict.pass,
    result: { checks: verdict.checks, ...(verdict.judge ? { judge: verdict.judge } : {}) },
    ...(verdict.pass ? {} : { error: { code: 'GOAL_NOT_MET', message: `The answer does not meet the goal yet: ${failed.join('; ')}` } }),
  };
}

/** Records a verdict in the journal (on the final turn, for steps) with its event and judge usage. */
export async function recordVerdict(w: TaskWriter, stepId: string | null, attempt: number, verdict: GoalVerdict): Promise<void> {
  if (stepId !== null && verdict.turn !== null) await w.completeTurn(stepId, verdict.turn, [goalObservation(stepId, verdict)]);
  if (verdict.usage) await w.recordUsage({ ...verdict.usage, purpose: 'judge', ...(stepId ? { step_id: stepId, attempt } : {}), turn: verdict.turn ?? undefined });
  if (verdict.reserved) await settleBudget(w, stepId);
  const { usage: _usage, reserved: _reserved, ...data } = verdict;
  await w.append({ type: 'goal_checked', ...(stepId ? { step_id: stepId } : {}), data });
}
