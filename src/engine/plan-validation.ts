import { DELEGATE_TOOL, type AgentDefinition } from '../agents/index.js';
import type { PlannedStep, PlanProposal, PlanRequest, ReplanRequest } from '../brains/types.js';
import { AppError } from '../errors.js';

const STEP_ID = /^[A-Za-z0-9_-]{1,64}$/;

export interface PlanLimits {
  agents: readonly AgentDefinition[];
  /** Tool names that exist; a step may only expect these. */
  tools: ReadonlySet<string>;
  maxSteps: number;
  /** Ids of completed steps of earlier plans, which a revised plan's steps may depend on. */
  completed?: ReadonlySet<string>;
}

/** The limits a plan request implies (the planner's and the engine's checks are the same). */
export function planLimits(request: PlanRequest | ReplanRequest): PlanLimits {
  const prior = 'revision' in request ? request.revision.steps : [];
  return {
    agents: request.agents,
    tools: new Set([...request.tools.map((t) => t.name), DELEGATE_TOOL]),
    maxSteps: request.maxSteps,
    completed: new Set(prior.filter((s) => s.status === 'completed').map((s) => s.id)),
  };
}

/**
 * Lists what is wrong with a proposed plan: empty or too many steps, bad or duplicate ids, unknown
 * agents or tools, dependencies on missing steps, and cycles. An empty list means the plan is valid.
 */
export function planProblems(plan: PlanProposal, limits: PlanLimits): string[] {
  const problems: string[] = [];
  if (!Array.isArray(plan.steps) || plan.steps.length === 0) return ['the plan has no steps'];
  if (plan.steps.length > limits.maxSteps) problems.push(`the plan has ${plan.steps.length} steps; the limit is ${limits.maxSteps}`);
  const agents = new Set(limits.agents.map((a) => a.name));
  const ids = new Set<string>();
  for (const step of plan.steps) {
    if (!STEP_ID.test(step.id)) problems.push(`step id "${step.id}" must be 1-64 letters, digits, - or _`);
    if (ids.has(step.id)) problems.push(`step id "${step.id}" is used twice`);
    ids.add(step.id);
    if (!agents.has(step.agent)) problems.push(`step ${step.id}: unknown agent "${step.agent}" (known: ${[...agents].join(', ')})`);
    for (const tool of step.tools ?? []) {
      if (!limits.tools.has(tool)) problems.push(`step ${step.id}: unknown tool "${tool}"`);
    }
    if (!step.instruction?.trim()) problems.push(`step ${step.id}: empty instruction`);
  }
  for (const step of plan.steps) {
    for (const dep of step.depends_on ?? []) {
      if (!ids.has(dep) && !limits.completed?.has(dep)) {
        problems.push(`step ${step.id} depends on "${dep}", which is neither a step of this plan nor a completed earlier step`);
      }
      if (dep === step.id) problems.push(`step ${step.id} depends on itself`);
    }
  }
  const cycle = findCycle(plan.steps);
  if (cycle) problems.push(`the steps form a cycle: ${cycle.join(' -> ')}`);
  return problems;
}

/** Returns the plan's steps, normalised, or throws PLAN_INVALID listing every problem. */
export function validatePlan(plan: PlanProposal, limits: PlanLimits): PlannedStep[] {
  const problems = planProblems(plan, limits);
  if (problems.length > 0) {
    throw new AppError('PLAN_INVALID', `The plan is invalid: ${problems.join('; ')}`, { details: { problems } });
  }
  return plan.steps.map((s) => ({
    id: s.id,
    agent: s.agent,
    title: s.title?.trim() || s.id,
    instruction: s.instruction,
    depends_on: [...new Set(s.depends_on ?? [])],
    tools: [...new Set(s.tools ?? [])],
    ...(s.success_criteria ? { success_criteria: s.success_criteria } : {}),
    ...(s.params ? { params: s.params } : {}),
  }));
}

/**
 * Gives a revised plan's steps ids no earlier step has: an id in use becomes `id-vN` (N the new
 * version). Dependencies name this plan's steps first, then completed earlier steps, as validated.
 */
export function freshStepIds(steps: PlannedStep[], taken: ReadonlySet<string>, version: number): PlannedStep[] {
  const used = new Set(taken);
  const renamed = new Map<string, string>();
  for (const s of steps) {
    let id = s.id;
    for (let n = 0; used.has(id); n++) id = `${s.id}-v${version}${n === 0 ? '' : `-${n}`}`;
    used.add(id);
    renamed.set(s.id, id);
  }
  return steps.map((s) => ({ ...s, id: renamed.get(s.id)!, depends_on: s.depends_on.map((d) => renamed.get(d) ?? d) }));
}

/** A cycle among the steps' dependencies (ids in order), or null. Depth-first with colours. */
function findCycle(steps: PlannedStep[]): string[] | null {
  const deps = new Map(steps.map((s) => [s.id, s.depends_on ?? []]));
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | null => {
    if (state.get(id) === 'done' || !deps.has(id)) return null;
    if (state.get(id) === 'visiting') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'visiting');
    path.push(id);
    for (const dep of deps.get(id) ?? []) {
      const cycle = visit(dep);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(id, 'done');
    return null;
  };
  for (const s of steps) {
    const cycle = visit(s.id);
    if (cycle) return cycle;
  }
  return null;
}
