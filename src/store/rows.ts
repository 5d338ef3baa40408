/** Mapping between database rows and records. Timestamps are ISO strings in records. */
import type { ErrorInfo } from '../errors.js';
import type { TaskEvent } from '../events/types.js';
import type { StoredFile } from '../tools/types.js';
import type { Row } from './database.js';
import type { DocumentRecord, LedgerEntry, PlanRecord, StepRecord, StepStatus, TaskRecord, TaskStatus, UsageTotals } from './types.js';
import type { PlannedStep } from '../brains/types.js';


export function iso(v: unknown): string {
  return v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString();
}

export function isoOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : iso(v);
}

export function toTask(r: Row): TaskRecord {
  return {
    id: r.id as string,
    tenant_id: r.tenant_id as string,
    status: r.status as TaskStatus,
    input: r.input as string,
    files: (r.files as string[]) ?? [],
    options: (r.options as TaskRecord['options']) ?? {},
    final_output: (r.final_output as string | null) ?? null,
    error: (r.error as ErrorInfo | null) ?? null,
    plan_version: r.plan_version as number,
    brain: (r.brain as string | null) ?? null,
    last_seq: Number(r.last_seq ?? 0),
    idempotency_key: (r.idempotency_key as string | null) ?? null,
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
    queued_at: isoOrNull(r.queued_at),
    started_at: isoOrNull(r.started_at),
    completed_at: isoOrNull(r.completed_at),
    deadline_at: isoOrNull(r.deadline_at),
    lease_owner: (r.lease_owner as string | null) ?? null,
    lease_expires_at: isoOrNull(r.lease_expires_at),
    reserved_tokens: Number(r.reserved_tokens ?? 0),
    reserved_usd: Number(r.reserved_usd ?? 0),
    replan_reason: (r.replan_reason as TaskRecord['replan_reason']) ?? null,
    created_by: (r.created_by as TaskRecord['created_by']) ?? null,
  };
}

export function toPlan(r: Row): PlanRecord {
  return {
    task_id: r.task_id as string,
    version: r.version as number,
    brain: r.brain as string,
    rationale: r.rationale as string,
    steps: r.steps as PlannedStep[],
    reason: (r.reason as PlanRecord['reason']) ?? null,
    created_at: iso(r.created_at),
  };
}

export function toStep(r: Row): StepRecord {
  return {
    task_id: r.task_id as string,
    id: r.id as string,
    plan_version: r.plan_version as number,
    parent_id: (r.parent_id as string | null) ?? null,
    position: r.position as number,
    agent: r.agent as string,
    title: r.title as string,
    instruction: r.instruction as string,
    depends_on: (r.depends_on as string[]) ?? [],
    tools: (r.tools as string[]) ?? [],
    success_criteria: (r.success_criteria as string[]) ?? [],
    params: (r.params as Record<string, unknown>) ?? {},
    status: r.status as StepStatus,
    attempt: r.attempt as number,
    iterations: r.iterations as number,
    output: (r.output as StepRecord['output']) ?? null,
    error: (r.error as ErrorInfo | null) ?? null,
    created_at: iso(r.created_at),
    ready_at: isoOrNull(r.ready_at),
    started_at: isoOrNull(r.started_at),
    completed_at: isoOrNull(r.completed_at),
    lease_owner: (r.lease_owner as string | null) ?? null,
    lease_expires_at: isoOrNull(r.lease_expires_at),
    reserved_tokens: Number(r.reserved_tokens ?? 0),
    reserved_usd: Number(r.reserved_usd ?? 0),
  };
}

export function toLedger(r: Row): LedgerEntry {
  return {
    idempotency_key: r.idempotency_key as string,
    task_id: r.task_id as string,
    step_id: r.step_id as string,
    attempt: r.attempt as number,
    turn: r.turn as number,
    call_index: r.call_index as number,
    tool: r.tool as string,
    effect: r.effect as LedgerEntry['effect'],
    args: r.args,
    status: r.status as LedgerEntry['status'],
    result: r.result ?? null,
    error: (r.error as ErrorInfo | null) ?? null,
    started_at: iso(r.started_at),
    finished_at: isoOrNull(r.finished_at),
    duration_ms: (r.duration_ms as number | null) ?? null,
  };
}

export function toEvent(r: Row): TaskEvent {
  return {
    seq: r.seq as number,
    type: r.type as TaskEvent['type'],
    task_id: r.task_id as string,
    ...(r.step_id ? { step_id: r.step_id as string } : {}),
    timestamp: iso(r.created_at),
    data: r.data,
  } as TaskEvent;
}

export function toDocument(r: Row): DocumentRecord {
  return {
    id: r.id as string,
    tenant_id: r.tenant_id as string,
    title: r.title as string,
    metadata: (r.metadata as Record<string, unknown>) ?? {},
    chunks: r.chunks as number,
    size: Number(r.size),
    created_at: iso(r.created_at),
  };
}

export function toFile(r: Row): StoredFile {
  return {
    id: r.id as string,
    name: r.name as string,
    content_type: r.content_type as string,
    size: r.size as number,
    sha256: r.sha256 as string,
    created_at: iso(r.created_at),
  };
}


/** A task's columns plus `last_seq`, the seq of its newest event (not a column: the events table is the truth). */
export const TASK_SELECT = `t.*, COALESCE((SELECT max(e.seq) FROM events e WHERE e.task_id = t.id), 0) AS last_seq`;

/** Usage totals grouped by task and step (step '' for the task's own calls, such as planning). */
export const USAGE_TOTALS = `SELECT task_id, COALESCE(step_id, '') AS step_id, count(*)::int AS model_calls,
  sum(input_tokens)::int AS input_tokens, sum(output_tokens)::int AS output_tokens,
  sum(cached_tokens)::int AS cached_tokens, sum(cost_usd)::float8 AS cost_usd
  FROM usage WHERE task_id = ANY($1::text[]) GROUP BY 1, 2`;

export function toUsageTotals(r: Row): UsageTotals {
  return {
    model_calls: Number(r.model_calls ?? 0),
    input_tokens: Number(r.input_tokens ?? 0),
    output_tokens: Number(r.output_tokens ?? 0),
    cached_tokens: Number(r.cached_tokens ?? 0),
    cost_usd: Number(r.cost_usd ?? 0),
  };
}
