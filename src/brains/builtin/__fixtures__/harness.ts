/** Drives the built-in brain through whole plans against the fake tools, as the engine would. */
import { AGENTS, getAgent } from '../../../agents/index.js';
import type { StoredFile, ToolDescriptor } from '../../../tools/types.js';
import type {
  BrainCallContext,
  DecideRequest,
  DependencyOutput,
  Observation,
  PlanProposal,
  PlanRequest,
  StepOutput,
  TaskBrief,
  ToolCallRequest,
  TurnRecord,
} from '../../types.js';
import { BuiltinBrain } from '../index.js';
import { ALL_TOOLS, runFakeCall } from './fake-tools.js';

export function task(input: string, files: StoredFile[] = []): TaskBrief {
  return { id: 'task-1', input, files, options: {} };
}

export function planRequest(input: string, options: { files?: StoredFile[]; tools?: ToolDescriptor[]; maxSteps?: number } = {}): PlanRequest {
  return { task: task(input, options.files), agents: AGENTS, tools: options.tools ?? ALL_TOOLS, maxSteps: options.maxSteps ?? 8 };
}

/** A context that records partial output. */
export function recordingContext(signal: AbortSignal = new AbortController().signal): BrainCallContext & { partials: string[] } {
  const partials: string[] = [];
  return { signal, partials, emitPartial: (text) => partials.push(text) };
}

interface DecideOptions {
  history?: TurnRecord[];
  dependencies?: DependencyOutput[];
  tools?: ToolDescriptor[];
  maxIterations?: number;
}

/** A decide request for one step of a plan. */
export function decideRequest(plan: PlanProposal, stepId: string, brief: TaskBrief, options: DecideOptions = {}): DecideRequest {
  const step = plan.steps.find((s) => s.id === stepId);
  const agent = step ? getAgent(step.agent) : undefined;
  if (!step || !agent) throw new Error(`no step ${stepId}`);
  const history = options.history ?? [];
  return {
    task: brief,
    step,
    agent,
    attempt: 1,
    turn: history.length,
    maxIterations: options.maxIterations ?? 6,
    dependencies: options.dependencies ?? [],
    history,
    tools: options.tools ?? ALL_TOOLS.filter((t) => step.tools.includes(t.name) || agent.tools.includes(t.name)),
  };
}

export interface PlanRun {
  plan: PlanProposal;
  outputs: Map<string, StepOutput>;
  histories: Map<string, TurnRecord[]>;
  partials: string[];
}

/** Plans a task and runs every step to its final output, in plan order, against the fake tools. */
export async function runTask(
  input: string,
  options: {
    files?: StoredFile[];
    failures?: Parameters<typeof runFakeCall>[2];
    maxIterations?: number;
    /** The registry; ALL_TOOLS when absent. */
    tools?: ToolDescriptor[];
    /** Runs calls the fakes do not know (sql_query, send_email); the fakes run the rest. */
    execute?: (call: ToolCallRequest, callId: string) => Promise<Observation | null>;
  } = {},
): Promise<PlanRun> {
  const brain = new BuiltinBrain();
  const request = planRequest(input, { files: options.files, tools: options.tools });
  const registry = request.tools;
  const ctx = recordingContext();
  const plan = (await brain.plan(request, ctx)).value;
  const outputs = new Map<string, StepOutput>();
  const histories = new Map<string, TurnRecord[]>();
  for (const step of plan.steps) {
    const dependencies = step.depends_on.map((id) => {
      const output = outputs.get(id);
      const dep = plan.steps.find((s) => s.id === id);
      if (!output || !dep) throw new Error(`dependency ${id} has not run`);
      return { step_id: id, agent: dep.agent, title: dep.title, output };
    });
    const history: TurnRecord[] = [];
    for (let turn = 0; ; turn += 1) {
      if (turn >= (options.maxIterations ?? 6)) throw new Error(`step ${step.id} did not finish`);
      const agentTools = getAgent(step.agent)?.tools ?? [];
      const tools = registry.filter((t) => step.tools.includes(t.name) || agentTools.includes(t.name));
      const req = decideRequest(plan, step.id, request.task, { history, dependencies, maxIterations: options.maxIterations, tools });
      const decision = (await brain.decide(req, ctx)).value;
      if (decision.type === 'final') {
        outputs.set(step.id, decision.output);
        break;
      }
      const observations = await Promise.all(
        decision.calls.map(async (c, i) => {
          const id = `${step.id}-${turn}-${i}`;
          return (await options.execute?.(c, id)) ?? runFakeCall(c, id, options.failures);
        }),
      );
      history.push({ turn, decision, observations });
    }
    histories.set(step.id, history);
  }
  return { plan, outputs, histories, partials: ctx.partials };
}

/** The final report of a run: the output of its last step. */
export function reportOf(run: PlanRun): string {
  const last = run.plan.steps[run.plan.steps.length - 1];
  return (last ? run.outputs.get(last.id)?.text : undefined) ?? '';
}

/**
 * Checks the invariants every built-in plan keeps: 2–6 steps (1 only under a budget of 1), ids
 * s1…sN, dependencies only on earlier steps (so no cycles), known agents, planned calls only to
 * tools the step lists and the registry has.
 */
export function expectWellFormed(plan: PlanProposal, request: PlanRequest): void {
  const problems: string[] = [];
  const agents = new Set(request.agents.map((a) => a.name));
  const tools = new Set(request.tools.map((t) => t.name));
  const max = Math.min(6, request.maxSteps);
  if (plan.steps.length < Math.min(2, max) || plan.steps.length > max) problems.push(`step count ${plan.steps.length}`);
  plan.steps.forEach((step, i) => {
    if (step.id !== `s${i + 1}`) problems.push(`id ${step.id} at ${i}`);
    if (!agents.has(step.agent)) problems.push(`agent ${step.agent}`);
    const earlier = new Set(plan.steps.slice(0, i).map((s) => s.id));
    for (const dep of step.depends_on) if (!earlier.has(dep)) problems.push(`${step.id} depends on ${dep}`);
    const calls = (step.params?.['calls'] as Array<{ tool: string }> | undefined) ?? [];
    for (const call of calls) if (!step.tools.includes(call.tool) || !tools.has(call.tool)) problems.push(`${step.id} calls ${call.tool}`);
  });
  if (plan.rationale.trim().length === 0) problems.push('empty rationale');
  if (problems.length > 0) throw new Error(`Malformed plan: ${problems.join('; ')}`);
}

/** The planned calls of a step. */
export function callsOf(plan: PlanProposal, stepId: string): Array<{ tool: string; args: unknown }> {
  const step = plan.steps.find((s) => s.id === stepId);
  return (step?.params?.['calls'] as Array<{ tool: string; args: unknown }> | undefined) ?? [];
}
