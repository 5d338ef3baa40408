/** The JSON shapes of tasks as the API shows them. */
import type { PlanRecord, StepRecord, Store, TaskRecord, TaskUsageSummary } from '../store/types.js';

export function taskLinks(id: string) {
  return {
    self: `/v1/tasks/${id}`,
    events: `/v1/tasks/${id}/events`,
    websocket: `/v1/tasks/${id}/ws`,
    cancel: `/v1/tasks/${id}/cancel`,
    metrics: `/v1/tasks/${id}/metrics`,
  };
}

export function taskSummary(t: TaskRecord) {
  return {
    id: t.id,
    status: t.status,
    input: t.input,
    created_at: t.created_at,
    started_at: t.started_at,
    completed_at: t.completed_at,
    error: t.error,
    links: taskLinks(t.id),
  };
}

function ms(from: string | null, to: string | null): number | null {
  return from && to ? Math.max(0, Date.parse(to) - Date.parse(from)) : null;
}

export function stepView(s: StepRecord) {
  return {
    id: s.id,
    plan_version: s.plan_version,
    parent_id: s.parent_id,
    agent: s.agent,
    title: s.title,
    instruction: s.instruction,
    depends_on: s.depends_on,
    tools: s.tools,
    status: s.status,
    attempts: s.attempt,
    iterations: s.iterations,
    output: s.output,
    error: s.error,
    ready_at: s.ready_at,
    started_at: s.started_at,
    completed_at: s.completed_at,
    duration_ms: ms(s.started_at, s.completed_at),
  };
}

function planView(p: PlanRecord) {
  return { version: p.version, brain: p.brain, rationale: p.rationale, reason: p.reason, created_at: p.created_at, steps: p.steps.map((s) => s.id) };
}

function usageView(u: TaskUsageSummary) {
  return { model_calls: u.calls, input_tokens: u.input_tokens, output_tokens: u.output_tokens, cached_tokens: u.cached_tokens, cost_usd: u.cost_usd };
}

export async function taskView(store: Store, t: TaskRecord) {
  const [plans, steps, usage] = await Promise.all([
    t.plan_version > 0 ? store.listPlans(t.id) : Promise.resolve([]),
    store.listSteps(t.id),
    store.taskUsage(t.id),
  ]);
  return {
    ...taskSummary(t),
    created_by: t.created_by,
    files: t.files,
    options: t.options,
    brain: t.brain,
    queued_at: t.queued_at,
    deadline_at: t.deadline_at,
    updated_at: t.updated_at,
    duration_ms: ms(t.started_at ?? t.created_at, t.completed_at),
    final_output: t.final_output,
    plan: plans.length > 0 ? planView(plans.find((p) => p.version === t.plan_version) ?? plans.at(-1)!) : null,
    plans: plans.map(planView),
    steps: steps.map(stepView),
    usage: usageView(usage),
    last_event_seq: t.last_seq,
  };
}

/** Latency per step and in total, queue wait, retries, tokens and cost. */
export async function taskMetrics(store: Store, t: TaskRecord) {
  const [steps, usage, calls] = await Promise.all([store.listSteps(t.id), store.taskUsage(t.id), store.listToolCalls(t.id)]);
  const end = t.completed_at ?? new Date().toISOString();
  const stepMetrics = steps.map((s) => {
    const u = usage.by_step[s.id];
    return {
      step_id: s.id,
      agent: s.agent,
      status: s.status,
      latency_ms: ms(s.started_at, s.completed_at),
      queue_wait_ms: ms(s.ready_at, s.started_at),
      attempts: s.attempt,
      retries: Math.max(0, s.attempt - 1),
      iterations: s.iterations,
      tool_calls: calls.filter((c) => c.step_id === s.id).length,
      input_tokens: u?.input_tokens ?? 0,
      output_tokens: u?.output_tokens ?? 0,
      cached_tokens: u?.cached_tokens ?? 0,
      cost_usd: u?.cost_usd ?? 0,
    };
  });
  return {
    task_id: t.id,
    status: t.status,
    total_latency_ms: ms(t.created_at, end),
    run_latency_ms: ms(t.started_at, end),
    queue_wait_ms: ms(t.queued_at, t.started_at),
    steps: stepMetrics,
    retries: stepMetrics.reduce((n, s) => n + s.retries, 0),
    tool_calls: calls.length,
    ...usageView(usage),
  };
}
