/**
 * Every event a client can see is a member of one discriminated union, `TaskEvent`. Events are
 * appended to a task's log with `seq` = 1, 2, 3… (no gaps), in the same transaction as the state
 * change they announce, and only then published. The same objects go out over SSE, NDJSON and
 * WebSocket through one serializer.
 */
import type { ErrorInfo } from '../errors.js';

/** Token use of model calls. The built-in brain reports zeros. */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  cost_usd: number;
}

export interface StepSummary {
  id: string;
  agent: string;
  title: string;
  depends_on: string[];
  tools: string[];
}

/** The tool policy's decision on a call, and the rule that made it (src/policy). */
export interface PolicyDecisionRef {
  decision: 'allow' | 'deny' | 'ask';
  /** The rule's label: its id, or `tenant#2`, `operator#1`, `AGENTIC_APPROVAL_RULES#1`, `default:allow`, … */
  rule: string;
  source: 'operator' | 'tenant' | 'default';
  /** The tenant policy's version when a tenant rule decided. */
  version: number | null;
}

/** Who acted: a principal's id (`key:…`, `jwt:…`, `local`) and its name. */
export interface Actor {
  id: string;
  name: string | null;
  roles: string[];
}

/** The data carried by each event type. */
export interface EventDataMap {
  task_created: { input: string; files: string[]; options: Record<string, unknown>; created_by?: Actor };
  planning_started: { brain: string; deadline_at: string };
  plan_created: {
    version: number;
    brain: string;
    rationale: string;
    steps: StepSummary[];
    /** Why this plan revises the previous one (versions after 1). */
    reason?: { trigger: 'step_failed' | 'goal_not_met'; step_id?: string; error: ErrorInfo };
  };
  /** The plan in force did not do (a step failed for good, or the result missed the task): a revised plan is asked for. */
  replanning: {
    /** The version the revised plan will get. */
    version: number;
    trigger: 'step_failed' | 'goal_not_met';
    step_id?: string;
    error: ErrorInfo;
    /** Steps of the earlier plan that never ran to the end, cancelled with REPLANNED. */
    superseded: string[];
  };
  /** A tool call needs a human's decision; the step waits (no lease) and the task is awaiting_approval. */
  approval_requested: {
    approval_id: string;
    call_id: string;
    tool: string;
    args: unknown;
    /** SHA-256 of the arguments as canonical JSON: the approval is bound to exactly these. */
    args_hash: string;
    /** Why it was asked for: the policy rule that matched, in words. */
    reason: string;
    expires_at: string;
    default_decision: 'approve' | 'reject';
    /** The principal whose task made the call. */
    requested_by?: string | null;
    policy?: PolicyDecisionRef;
  };
  /** The decision on a request (by a person, or by its expiry); the step goes on. */
  approval_decided: { approval_id: string; tool: string; decision: 'approve' | 'reject'; decided_by: string; reason: string | null; expired: boolean };
  /** A manager step handed sub-tasks to other agents; it waits (holding no lease) until they complete. */
  delegated: { turn: number; steps: StepSummary[] };
  step_started: { attempt: number; agent: string; title: string; description: string };
  partial_output: { text: string; attempt: number; turn: number };
  tool_call_started: {
    call_id: string;
    tool: string;
    args: unknown;
    attempt: number;
    turn: number;
    idempotency_key: string;
    /** Why it may run: the policy's decision (`ask`: a person approved it). */
    policy?: PolicyDecisionRef;
  };
  /** The tool policy refused a call; the model reads the refusal as the call's observation. */
  tool_call_denied: { call_id: string; tool: string; args: unknown; reason: string; policy: PolicyDecisionRef };
  tool_call_completed: {
    call_id: string;
    tool: string;
    ok: boolean;
    duration_ms: number;
    result?: unknown;
    error?: ErrorInfo;
  };
  goal_checked: {
    /** Null for the task's final output. */
    turn: number | null;
    pass: boolean;
    checks: Array<{ name: string; pass: boolean; detail?: string }>;
    judge?: { pass: boolean; reasons: string[]; brain: string };
  };
  step_retrying: { attempt: number; next_attempt: number; delay_ms: number; error: ErrorInfo };
  step_completed: { attempt: number; output: string; duration_ms: number; usage: Usage };
  step_failed: { attempt: number; error: ErrorInfo; duration_ms: number | null };
  task_resumed: { reason: string; status: string };
  task_completed: { final_output: string; duration_ms: number; usage: Usage };
  task_failed: { error: ErrorInfo; duration_ms: number; usage: Usage };
  task_cancelled: { reason: string; duration_ms: number; usage: Usage; cancelled_by?: string };
}

export type EventType = keyof EventDataMap;


/** Events after which a task's log never grows. */
export const TERMINAL_EVENT_TYPES: ReadonlySet<string> = new Set(['task_completed', 'task_failed', 'task_cancelled']);

/** An event as stored and sent. */
export type TaskEvent = {
  [K in EventType]: {
    seq: number;
    type: K;
    task_id: string;
    step_id?: string;
    timestamp: string;
    data: EventDataMap[K];
  };
}[EventType];

/** An event before the log gives it its seq and timestamp. */
export type NewEvent = {
  [K in EventType]: { type: K; step_id?: string; data: EventDataMap[K] };
}[EventType];

export function isTerminalEvent(event: { type: string }): boolean {
  return TERMINAL_EVENT_TYPES.has(event.type);
}

export const ZERO_USAGE: Usage = Object.freeze({ input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 0 });
