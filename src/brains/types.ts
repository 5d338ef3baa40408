/**
 * The brain contract. The engine asks a brain two things: make a plan for a task, and decide the
 * next action inside a step. Two kinds answer: model brains (through provider SDKs) and the
 * built-in rule brain, which needs no model. The engine never knows which one it talks to.
 */
import type { AgentDefinition } from '../agents/index.js';
import type { ErrorInfo } from '../errors.js';
import type { StoredFile, ToolDescriptor } from '../tools/types.js';

/** A step as the brain proposes it. `params` carries brain-specific hints (the built-in brain's tool arguments). */
export interface PlannedStep {
  id: string;
  agent: string;
  title: string;
  instruction: string;
  depends_on: string[];
  /** Tools the step is expected to use. */
  tools: string[];
  success_criteria?: string[];
  params?: Record<string, unknown>;
}

export interface PlanProposal {
  rationale: string;
  steps: PlannedStep[];
}

export interface TaskBrief {
  id: string;
  input: string;
  files: StoredFile[];
  options: Record<string, unknown>;
}

export interface PlanRequest {
  task: TaskBrief;
  agents: readonly AgentDefinition[];
  tools: ToolDescriptor[];
  maxSteps: number;
}

/** What made the engine ask for a revised plan. */
export interface ReplanReason {
  trigger: 'step_failed' | 'goal_not_met';
  /** The step that failed, for `step_failed`. */
  step_id?: string;
  error: ErrorInfo;
}

/** A step of an earlier plan, as a revision sees it. */
export interface PriorStep {
  id: string;
  plan_version: number;
  agent: string;
  title: string;
  instruction: string;
  status: string;
  /** The output's text, for completed steps. */
  output?: string;
  error?: ErrorInfo;
}

/**
 * A request for a revised plan: the task, what every earlier step did, and why the last plan did
 * not do. A revision's steps may depend on completed earlier steps by id, reusing their outputs.
 */
export interface ReplanRequest extends PlanRequest {
  revision: {
    /** The version the revised plan will get (2 for the first revision). */
    version: number;
    reason: ReplanReason;
    steps: PriorStep[];
  };
}

/** Where a piece of an answer came from; the writer cites these. */
export interface Source {
  kind: 'document' | 'file' | 'tool' | 'url';
  id: string;
  title: string;
}

/** What a step produced. */
export interface StepOutput {
  text: string;
  sources: Source[];
  data?: unknown;
}

export interface ToolCallRequest {
  tool: string;
  args: unknown;
}

export type Decision =
  | { type: 'tool_calls'; thought?: string; calls: ToolCallRequest[] }
  | { type: 'final'; thought?: string; output: StepOutput };

/** The result of one tool call, as the brain sees it on the next turn. */
export interface Observation {
  call_id: string;
  tool: string;
  args: unknown;
  ok: boolean;
  result?: unknown;
  error?: ErrorInfo;
}

/** One journaled turn: the decision and, for tool calls, what they returned. */
export interface TurnRecord {
  turn: number;
  decision: Decision;
  observations: Observation[];
}

export interface DependencyOutput {
  step_id: string;
  agent: string;
  title: string;
  output: StepOutput;
}

export interface DecideRequest {
  task: TaskBrief;
  step: PlannedStep;
  agent: AgentDefinition;
  attempt: number;
  turn: number;
  maxIterations: number;
  /** Outputs of the steps this one depends on, in plan order. */
  dependencies: DependencyOutput[];
  /** Earlier turns of this attempt, oldest first. */
  history: TurnRecord[];
  /** Tools this step may call. */
  tools: ToolDescriptor[];
}

/** A model's circuit breaker as /health shows it (src/brains/llm/breaker.ts). */
export interface BreakerStatus {
  /** The model id, `provider:model`. */
  model: string;
  state: 'closed' | 'open' | 'half_open';
  /** Consecutive failed calls counted so far (reset by a success). */
  failures: number;
  /** When the breaker last opened (ms since the epoch), while it is open or half-open; else null. */
  opened_at: number | null;
}

/** Token use of one model call. */
export interface ModelUsage {
  model: string;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  cost_usd: number;
}

export interface BrainCallContext {
  signal: AbortSignal;
  /** Streams text as the brain produces it; the engine coalesces it into partial_output events. */
  emitPartial(text: string): void;
  /** The most output tokens this call may produce (what the task's budget leaves); the brain's own limit when absent. */
  maxOutputTokens?: number;
}

/**
 * A brain call's answer and what it cost. A call that fails after the provider billed it (an empty
 * answer, a plan still invalid after corrections) throws an error whose `details.usage` is the
 * ModelUsage, so the engine counts it too.
 */
export interface BrainResult<T> {
  value: T;
  usage?: ModelUsage;
}

/** What the judge is asked: did this output meet the goal (the step's success criteria, or the task)? */
export interface JudgeRequest {
  task: TaskBrief;
  /** The step judged, or null for the task's final output. */
  step: PlannedStep | null;
  /** What the output must achieve: the step's success criteria, or the task itself. */
  criteria: string[];
  output: StepOutput;
}

export interface Verdict {
  pass: boolean;
  reasons: string[];
}

/** What one brain call could cost at most, for budgets: the engine reserves it before the call. */
export interface CallEstimate {
  /** Estimated prompt size, tokens. */
  prompt_tokens: number;
  /** The output limit the brain would use, tokens. */
  max_output_tokens: number;
  /** Model calls the brain may make for this one request (e.g. plan repairs), each up to the above. */
  calls: number;
  usd_per_input_token: number;
  usd_per_output_token: number;
}

export interface Brain {
  /** Shown in /health and events, e.g. `builtin` or `openai:gpt-4.1-mini`. */
  readonly name: string;
  plan(request: PlanRequest, ctx: BrainCallContext): Promise<BrainResult<PlanProposal>>;
  /**
   * A revised plan after a step failed for good or the result missed the task. Brains that cannot
   * revise (the built-in rule brain would propose the same plan again) leave it out: their tasks
   * fail as they are.
   */
  replan?(request: ReplanRequest, ctx: BrainCallContext): Promise<BrainResult<PlanProposal>>;
  decide(request: DecideRequest, ctx: BrainCallContext): Promise<BrainResult<Decision>>;
  /**
   * Judges whether an output meets its goal, after the deterministic checks passed. Brains without a
   * model leave it out: their outputs get the deterministic checks only.
   */
  judge?(request: JudgeRequest, ctx: BrainCallContext): Promise<BrainResult<Verdict>>;
  /**
   * The circuit breaker of every model the brain may call, for /health. Brains that call no model
   * leave it out.
   */
  breakerStates?(): Promise<BreakerStatus[]>;
  /** The worst case of a call, for budgets. Brains that use no model (and cost nothing) leave it out. */
  estimate?(kind: 'plan' | 'decide' | 'judge', request: PlanRequest | DecideRequest | JudgeRequest): CallEstimate;
}
