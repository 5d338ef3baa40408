/**
 * Delegation: a manager step hands sub-tasks to other agents by calling `delegate`. The call adds
 * child steps to the plan (ordinary steps: journaled, streamed, leased, retried like any other) and
 * parks the manager as `waiting`, holding no lease, in one transaction. When the last child
 * completes, the manager becomes ready again; its run replays its journal and the delegate call's
 * observation is the children's outputs. Children may not delegate further.
 */
import { z } from 'zod';
import { AGENTS, DELEGATE_TOOL } from '../agents/index.js';
import type { Observation, PlannedStep, ToolCallRequest } from '../brains/types.js';
import { AppError } from '../errors.js';
import type { StepRecord, TaskWriter } from '../store/types.js';
import type { ToolDescriptor } from '../tools/types.js';
import type { AttemptRun } from './agent-loop.js';
import type { Job } from '../queue/types.js';
import { commit, dispatch, type EngineContext } from './context.js';
import { parkStep } from './replanning.js';
import { promoteSteps } from './scheduling.js';
import { planProblems } from './plan-validation.js';
import { callId } from './tool-calls.js';

const child = z.object({
  id: z.string().describe('An id for the sub-task, unique among this manager\'s sub-tasks: letters, digits, - or _.'),
  agent: z.string().describe('The agent that does it (not manager).'),
  title: z.string().describe('A short title.'),
  instruction: z.string().describe('What the sub-task must produce, with the context it needs.'),
  depends_on: z.array(z.string()).describe('Ids of sibling sub-tasks whose output this one needs.'),
  success_criteria: z.array(z.string()).describe('Checkable statements its output must satisfy.'),
  tools: z.array(z.string()).describe('Tools it is expected to use.'),
});

export const delegateInput = z.object({ steps: z.array(child).min(1).describe('The sub-tasks.') });

export type DelegateInput = z.infer<typeof delegateInput>;

/** The delegate call as the manager's brain sees it among its tools. */
export function delegateDescriptor(): ToolDescriptor {
  return {
    name: DELEGATE_TOOL,
    description:
      'Hand sub-tasks to other agents. They run as steps of the plan (in parallel where they do not depend on each other); ' +
      'the result of this call is their outputs. Make it the only call of its turn.',
    input_schema: z.toJSONSchema(delegateInput, { io: 'input' }),
    output_schema: { type: 'object', properties: { results: { type: 'array' } } },
    timeout_ms: 0,
    effect: 'idempotent',
    read_only: false,
    idempotent: true,
    side_effects: false,
  };
}

/** The id a child step gets: the manager's id, a dot, the id the manager gave it. */
export function childStepId(managerId: string, id: string): string {
  return `${managerId}.${id}`;
}

export function isDelegation(calls: ToolCallRequest[]): boolean {
  return calls.some((c) => c.tool === DELEGATE_TOOL);
}

/**
 * Carries out (or, on resume, collects) the delegation a manager decided on turn `turn`. Returns
 * the turn's observations when the turn is done (the children's outputs, or an error the manager
 * can correct), or 'waiting' when the children were just added and the manager must wait for them.
 */
export async function delegate(ctx: EngineContext, run: AttemptRun, turn: number, calls: ToolCallRequest[]): Promise<Observation[] | 'waiting'> {
  const steps = await ctx.store.listSteps(run.task.id);
  const mine = steps.filter((s) => s.parent_id === run.step.id && s.params?.delegated_turn === turn);
  if (mine.length > 0) return collect(ctx, run, turn, calls[0]!, mine);
  const problem = delegationProblem(ctx, run, calls, steps);
  if (problem) {
    const observations = calls.map((c, i) => ({ call_id: callId(run, turn, i), tool: c.tool, args: c.args, ok: false, error: problem.toInfo() }));
    await commit(ctx, run.task.id, (w) => w.completeTurn(run.step.id, turn, observations));
    return observations;
  }
  const input = delegateInput.parse(calls[0]!.args);
  const children: PlannedStep[] = input.steps.map((s) => ({
    id: childStepId(run.step.id, s.id),
    agent: s.agent,
    title: s.title.trim() || s.id,
    instruction: s.instruction,
    // A child sees what its manager saw, and its siblings' outputs.
    depends_on: [...run.step.depends_on, ...s.depends_on.map((d) => childStepId(run.step.id, d))],
    tools: [...new Set(s.tools)],
    success_criteria: s.success_criteria,
    params: { delegated_turn: turn },
  }));
  const jobs = await commit(ctx, run.task.id, async (w): Promise<Job[]> => {
    // While the plan is being revised nothing is delegated: the manager is superseded with the rest of the plan.
    const superseded = await parkStep(w, run.step.id, ctx.workerId);
    if (superseded) return superseded;
    await w.insertChildSteps(run.step.plan_version, run.step.id, children);
    await w.append({
      type: 'delegated',
      step_id: run.step.id,
      data: { turn, steps: children.map((c) => ({ id: c.id, agent: c.agent, title: c.title, depends_on: c.depends_on, tools: c.tools })) },
    });
    const ready = await promoteSteps(w, await w.listSteps(), run.limits.maxParallelSteps);
    return ready.map((stepId) => ({ kind: 'step' as const, taskId: run.task.id, stepId }));
  });
  await dispatch(ctx, jobs);
  return 'waiting';
}

/** What is wrong with a delegation, as an error the manager sees; null when it may go ahead. */
function delegationProblem(ctx: EngineContext, run: AttemptRun, calls: ToolCallRequest[], steps: StepRecord[]): AppError | null {
  if (calls.length !== 1) {
    return new AppError('TOOL_INPUT_INVALID', 'delegate must be the only call of its turn');
  }
  if (run.step.parent_id !== null) {
    return new AppError('TOOL_NOT_ALLOWED', 'A delegated sub-task cannot delegate further');
  }
  const parsed = delegateInput.safeParse(calls[0]!.args);
  if (!parsed.success) {
    return new AppError('TOOL_INPUT_INVALID', `Invalid arguments for delegate: ${z.prettifyError(parsed.error)}`);
  }
  const proposal = { rationale: '', steps: parsed.data.steps };
  const problems = planProblems(proposal, {
    agents: AGENTS.filter((a) => !a.delegates),
    tools: new Set(ctx.tools.names(run.task.tenant_id)),
    maxSteps: run.limits.maxSteps,
  });
  const taken = new Set(steps.map((s) => s.id));
  for (const s of parsed.data.steps) {
    if (taken.has(childStepId(run.step.id, s.id))) problems.push(`sub-task id "${s.id}" was used by an earlier delegation`);
  }
  if (problems.length === 0) return null;
  return new AppError('TOOL_INPUT_INVALID', `The delegation is invalid: ${problems.join('; ')}`, { details: { problems } });
}

/** The children are done (a manager is woken only then): their outputs become the call's observation. */
async function collect(ctx: EngineContext, run: AttemptRun, turn: number, call: ToolCallRequest, children: StepRecord[]): Promise<Observation[]> {
  if (!children.every((c) => c.status === 'completed')) {
    throw new AppError('NOT_READY', `Step ${run.step.id} was started before its sub-tasks completed`);
  }
  const observations: Observation[] = [
    {
      call_id: callId(run, turn, 0),
      tool: call.tool,
      args: call.args,
      ok: true,
      result: {
        results: children.map((c) => ({ step_id: c.id, agent: c.agent, title: c.title, output: c.output?.text ?? '', sources: c.output?.sources ?? [] })),
      },
    },
  ];
  await commit(ctx, run.task.id, (w) => w.completeTurn(run.step.id, turn, observations));
  return observations;
}

/**
 * Managers waiting on children that have all completed become ready again. Runs inside the
 * transaction that completed a step; returns the ids to dispatch.
 */
export async function wakeManagers(w: TaskWriter, steps: StepRecord[]): Promise<string[]> {
  const woken: string[] = [];
  const now = new Date().toISOString();
  for (const manager of steps.filter((s) => s.status === 'waiting' && s.plan_version === w.task.plan_version)) {
    const children = steps.filter((s) => s.parent_id === manager.id);
    if (children.length > 0 && children.every((c) => c.status === 'completed')) {
      await w.updateStep(manager.id, { status: 'ready', ready_at: now });
      woken.push(manager.id);
    }
  }
  return woken;
}
