/**
 * The agent loop of a step (one attempt at it; a retry continues its journal), in phases: prepare (journal, dependencies, tools), then per
 * turn decide (ask the brain, journal the decision) and observe (run tool calls, journal the
 * results), until the brain gives a final output or the iteration cap is reached. A turn already in
 * the journal is replayed from it: its decision is not requested again and its finished tool calls
 * are not run again.
 */
import { getAgent } from '../agents/index.js';
import type { DecideRequest, Decision, DependencyOutput, Observation, StepOutput, TaskBrief, TurnRecord } from '../brains/types.js';
import { AppError, toAppError } from '../errors.js';
import type { JournalTurn, StepRecord, TaskRecord, TaskWriter } from '../store/types.js';
import { commit, type EngineContext, type TaskLimits } from './context.js';
import { reserveBudget, settleBudget, settleFailedCall } from './budget.js';
import { checkGoal, goalObservation, recordVerdict, type GoalVerdict } from './goal-check.js';
import { PartialOutputBuffer } from './partial-output.js';
import { recordSafeStarts, runToolCalls, turnVerdicts, type TurnVerdicts } from './tool-calls.js';
import { delegate, delegateDescriptor, isDelegation } from './delegation.js';
import { approvalGate } from './approvals.js';

export interface AttemptRun {
  task: TaskRecord;
  step: StepRecord;
  attempt: number;
  limits: TaskLimits;
  signal: AbortSignal;
  /** Tools this step may call: the agent's tools that the registry has. */
  allowedTools: ReadonlySet<string>;
  /** The step ran before (a stopped process, or an earlier attempt), so its journal may have turns to replay. */
  resumed: boolean;
}

export interface AttemptResult {
  output: StepOutput;
  iterations: number;
  /** The passing goal check, to record with the step's completion. */
  verdict: GoalVerdict;
  /** The final turn's journal entry, when it is to be committed with the step's completion (see `decide`). */
  journal?: DeferredTurn;
}

/** A turn's journal entry, applied inside a commit. */
type Journal = (w: TaskWriter) => Promise<void>;

/**
 * A final turn left for the step's completion commit: the turn itself, and the model call's usage and
 * budget settlement, which must be recorded even when the completion is not (the call was paid for).
 */
export interface DeferredTurn {
  turn: Journal;
  accounting: Journal;
}

/**
 * Runs the attempt to a final output, or to 'waiting' when a manager delegated sub-tasks (its run
 * resumes from the journal once they are done).
 */
export async function runAttempt(ctx: EngineContext, run: AttemptRun): Promise<AttemptResult | 'waiting'> {
  const { journal, request } = await prepare(ctx, run);
  const history: TurnRecord[] = [];
  let rejected: Observation | undefined;
  for (let turn = 0; turn < run.limits.maxIterations; turn++) {
    run.signal.throwIfAborted();
    const journaled: JournalTurn | undefined = journal[turn];
    const decided: Decided = journaled ? { decision: journaled.decision } : await decide(ctx, run, { ...request, turn, history: [...history] });
    const decision = decided.decision;
    if (decision.type === 'final') {
      const output = normaliseOutput(decision.output);
      // A final answer the goal check turned down is in the journal with its verdict: go on from it.
      rejected = journaled?.observations?.find((o) => o.tool === 'goal_check' && !o.ok);
      if (!rejected) {
        const verdict = await checkGoal(ctx, { task: request.task, tenantId: run.task.tenant_id, step: run.step, criteria: run.step.success_criteria ?? [], output, turn, limits: run.limits, signal: run.signal });
        if (verdict.pass) return { output, iterations: turn + 1, verdict, journal: decided.journal };
        await commitPaid(ctx, run.task.id, decided.journal, async (w) => {
          await recordTurn(w, decided.journal);
          await recordVerdict(w, run.step.id, run.attempt, verdict);
        });
        rejected = goalObservation(run.step.id, verdict);
      }
      history.push({ turn, decision, observations: [rejected] });
      continue;
    }
    let observations = journaled?.observations;
    if (!observations && request.agent.delegates && isDelegation(decision.calls)) {
      const outcome = await delegate(ctx, run, turn, decision.calls);
      if (outcome === 'waiting') return outcome;
      observations = outcome;
    }
    if (!observations) {
      // The verdicts the decision was journaled with; a resumed turn asks the policy in force now.
      const verdicts = decided.verdicts ?? (await turnVerdicts(ctx, run, decision.calls));
      const gate = await approvalGate(ctx, run, turn, decision.calls, verdicts);
      if (gate === 'waiting') return gate;
      observations = await runToolCalls(ctx, run, turn, decision.calls, journaled ? 'resume' : 'fresh', verdicts, gate);
    }
    history.push({ turn, decision, observations });
  }
  if (rejected && history.at(-1)?.observations[0] === rejected) {
    throw new AppError('GOAL_NOT_MET', `Step ${run.step.id}'s last answer did not meet its goal: ${rejected.error?.message ?? ''}`, {
      details: { step_id: run.step.id, max_iterations: run.limits.maxIterations },
    });
  }
  throw new AppError('MAX_ITERATIONS_EXCEEDED', `Step ${run.step.id} reached ${run.limits.maxIterations} turns without a final answer`, {
    details: { step_id: run.step.id, max_iterations: run.limits.maxIterations },
  });
}

async function prepare(ctx: EngineContext, run: AttemptRun): Promise<{ journal: JournalTurn[]; request: Omit<DecideRequest, 'turn' | 'history'> }> {
  const agent = getAgent(run.step.agent);
  if (!agent) throw new AppError('UNKNOWN_AGENT', `Unknown agent "${run.step.agent}"`, { details: { agent: run.step.agent } });
  // Each read only when it can find something: the hot path of a fresh step reads nothing.
  const [journal, steps, files] = await Promise.all([
    run.resumed ? ctx.store.listTurns(run.task.id, run.step.id) : [],
    run.step.depends_on.length > 0 ? ctx.store.listSteps(run.task.id) : [],
    Promise.all(run.task.files.map((id) => ctx.store.getFile(id, run.task.tenant_id))),
  ]);
  const task: TaskBrief = { id: run.task.id, input: run.task.input, files: files.filter((f) => f !== null), options: run.task.options };
  const request = {
    task,
    step: run.step,
    agent,
    attempt: run.attempt,
    maxIterations: run.limits.maxIterations,
    dependencies: dependencyOutputs(steps, run.step),
    tools: [...run.allowedTools].map((name) => ctx.tools.describe(name, run.task.tenant_id)),
  };
  if (agent.delegates && run.step.parent_id === null) request.tools.push(delegateDescriptor());
  return { journal, request };
}

function dependencyOutputs(steps: StepRecord[], step: StepRecord): DependencyOutput[] {
  return steps
    .filter((s) => step.depends_on.includes(s.id) && s.output)
    .map((s) => ({ step_id: s.id, agent: s.agent, title: s.title, output: s.output! }));
}

/**
 * Asks the brain for the next action and journals it, with its usage and streamed text, in one commit.
 * A final answer that no model call can follow before the step completes (the brain has no judge)
 * is not committed here: its entry comes back as `journal`, to go into the completion's commit, one
 * write fewer per step. Should that commit never happen, the turn is simply asked again.
 */
/** A turn's decision; a fresh one of tool calls comes with the policy's verdicts on them. */
interface Decided {
  decision: Decision;
  journal?: DeferredTurn;
  verdicts?: TurnVerdicts;
}

async function decide(ctx: EngineContext, run: AttemptRun, request: DecideRequest): Promise<Decided> {
  const maxOutputTokens = await reserveBudget(ctx, run.task, run.step.id, run.limits, ctx.brain.estimate?.('decide', request));
  const partial = new PartialOutputBuffer(ctx, run.task.id, run.step.id, run.attempt, request.turn);
  let result;
  try {
    result = await ctx.brain.decide(request, { signal: run.signal, emitPartial: (t) => partial.push(t), maxOutputTokens });
  } catch (err) {
    partial.discard();
    if (run.signal.aborted) throw run.signal.reason;
    const error = toAppError(err, 'BRAIN_ERROR');
    const call = { stepId: run.step.id, reserved: maxOutputTokens !== undefined, purpose: 'decide' as const, attempt: run.attempt, turn: request.turn };
    await settleFailedCall(ctx, run.task.id, call, error);
    throw error;
  }
  const decision = checkDecision(result.value);
  const verdicts = decision.type === 'tool_calls' ? await turnVerdicts(ctx, run, decision.calls) : undefined;
  await partial.settle();
  const rest = partial.takeRest();
  const usage = result.usage;
  const journal: DeferredTurn = {
    turn: async (w) => {
      await partial.appendText(w, rest);
      await w.insertTurn(run.step.id, run.attempt, request.turn, decision);
      if (decision.type === 'tool_calls') await recordSafeStarts(ctx, w, run, request.turn, decision.calls, verdicts!);
    },
    accounting: async (w) => {
      if (maxOutputTokens !== undefined) await settleBudget(w, run.step.id);
      if (usage) await w.recordUsage({ ...usage, purpose: 'decide', step_id: run.step.id, attempt: run.attempt, turn: request.turn });
    },
  };
  if (decision.type === 'final' && !ctx.brain.judge) return { decision, journal };
  await commitPaid(ctx, run.task.id, journal, (w) => recordTurn(w, journal));
  return { decision, verdicts };
}

/** Journals a turn with its model call's accounting. */
export async function recordTurn(w: TaskWriter, turn: DeferredTurn | undefined): Promise<void> {
  await turn?.turn(w);
  await turn?.accounting(w);
}

/**
 * Commits `fn`, which journals `turn`. Should that commit fail, the model call's usage is recorded on its
 * own (best effort: the store may be what failed), so that paid-for spend is not lost.
 */
export async function commitPaid<T>(ctx: EngineContext, taskId: string, turn: DeferredTurn | undefined, fn: (w: TaskWriter) => Promise<T>): Promise<T> {
  try {
    return await commit(ctx, taskId, fn);
  } catch (err) {
    if (turn) await commit(ctx, taskId, turn.accounting).catch(() => undefined);
    throw err;
  }
}

/** A brain that answers nonsense fails the attempt with a clear code rather than corrupting the journal. */
function checkDecision(decision: Decision | undefined): Decision {
  if (decision?.type === 'final' && typeof decision.output?.text === 'string') return decision;
  if (decision?.type === 'tool_calls' && Array.isArray(decision.calls) && decision.calls.every((c) => typeof c?.tool === 'string')) {
    return decision;
  }
  throw new AppError('BRAIN_ERROR', 'The brain returned a decision that is neither tool calls nor a final output', {
    details: { decision: JSON.stringify(decision ?? null).slice(0, 500) },
  });
}

function normaliseOutput(output: StepOutput): StepOutput {
  return { text: output.text, sources: Array.isArray(output.sources) ? output.sources : [], ...(output.data !== undefined ? { data: output.data } : {}) };
}
