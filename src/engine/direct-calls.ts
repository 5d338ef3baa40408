/**
 * Direct invocation of one tool (POST /v1/tools/{name}/invoke), for operators and for testing tools
 * in isolation, under the rules a task's calls follow: the tool policy (a direct call is denied unless
 * a rule allows it, or asks for approval), the registry's validation, timeout and sandbox, and the
 * ledger (the caller's Idempotency-Key makes the
 * ledger key, so a repeated request returns the recorded result instead of acting twice).
 */
import { randomUUID } from 'node:crypto';
import { AppError, toAppError, type ErrorInfo } from '../errors.js';
import type { ApprovalRecord } from '../store/types.js';
import type { Role } from '../auth/principal.js';
import type { ToolEffect } from '../tools/types.js';
import { approvalRequest, argsHash } from './approvals.js';
import type { EngineContext } from './context.js';
import { policyRef, type PolicyRef } from './policies.js';
import { taskFiles } from './tool-calls.js';

export interface DirectCall {
  tenantId: string;
  /** Who calls: its id is recorded (and may not decide an approval of this call); its roles are what the policy's `roles` see. */
  principal: { id: string; roles: readonly Role[] };
  tool: string;
  args: unknown;
  /** The caller's Idempotency-Key; needed for tools that need approval or have side effects. */
  idempotencyKey?: string;
  signal: AbortSignal;
}

export type DirectOutcome =
  | { status: 'completed'; ok: true; result: unknown; replayed: boolean; duration_ms: number | null; policy: PolicyRef }
  | { status: 'completed'; ok: false; error: ErrorInfo; replayed: boolean; duration_ms: number | null; policy: PolicyRef }
  | { status: 'awaiting_approval'; approval: ApprovalRecord; policy: PolicyRef };

export async function invokeDirect(ctx: EngineContext, call: DirectCall): Promise<DirectOutcome> {
  const tool = ctx.tools.get(call.tool, call.tenantId);
  const verdict = await ctx.policies.decide({
    tenantId: call.tenantId,
    tool: tool.name,
    effect: tool.effect,
    args: call.args,
    via: 'direct',
    agent: null,
    roles: call.principal.roles,
  });
  const policy = policyRef(verdict);
  if (verdict.decision === 'deny') {
    throw new AppError('TOOL_DENIED', `${tool.name} may not be invoked directly here: ${verdict.reason} (rule ${verdict.rule})`, {
      details: { tool: tool.name, ...policy },
    });
  }
  const reason = verdict.decision === 'ask' ? verdict.reason : null;
  if ((reason || tool.effect === 'side_effect') && !call.idempotencyKey) {
    throw new AppError('VALIDATION_ERROR', `${tool.name} ${reason ? 'needs approval' : 'has side effects'}: send an Idempotency-Key header, and the same one when you retry`, {
      details: { tool: tool.name },
    });
  }
  // The tool is part of the key: a key approved or used for one tool says nothing about another.
  const key = `direct:${call.tenantId}:${tool.name}:${call.idempotencyKey ?? randomUUID()}`;
  const recorded = await replay(ctx, key, tool.effect, call.args, tool.timeoutMs, policy);
  if (recorded) return recorded;
  if (reason) {
    const approval = await ctx.store.requestApproval(
      approvalRequest(ctx, {
        tenant_id: call.tenantId,
        task_id: null,
        step_id: null,
        turn: null,
        call_index: null,
        idempotency_key: key,
        tool: tool.name,
        args: call.args,
        rule: reason,
        requested_by: call.principal.id,
      }),
    );
    if (approval.status === 'pending') return { status: 'awaiting_approval', approval, policy };
    if (approval.status === 'rejected') {
      throw new AppError('APPROVAL_REJECTED', `${tool.name} was not approved${approval.reason ? `: ${approval.reason}` : ''}`, {
        details: { approval_id: approval.id, decided_by: approval.decided_by, expired: approval.expired },
      });
    }
  }
  if (!(await ctx.store.startDirectCall({ idempotency_key: key, tenant_id: call.tenantId, tool: tool.name, effect: tool.effect, args: call.args ?? null }))) {
    // The key is in the ledger already (a concurrent request, or an unfinished earlier one): its result
    // if it has one; a side effect is not repeated; a safe call runs again under the same key.
    const again = await replay(ctx, key, tool.effect, call.args, tool.timeoutMs, policy);
    if (again) return again;
  }
  const started = performance.now();
  let outcome: { ok: true; result: unknown } | { ok: false; error: ErrorInfo };
  try {
    const result = await ctx.tools.invoke(tool.name, call.args, {
      // A side effect is not cut off when the client leaves: half-done, it could be neither recorded nor retried safely.
      signal: tool.effect === 'side_effect' ? new AbortController().signal : call.signal,
      tenantId: call.tenantId,
      idempotencyKey: key,
      files: taskFiles(ctx, call.tenantId, null),
      documents: ctx.store.documentIndex(call.tenantId),
    });
    outcome = { ok: true, result };
  } catch (err) {
    outcome = { ok: false, error: toAppError(err, 'TOOL_FAILED').toInfo() };
  }
  const duration_ms = Math.round(performance.now() - started);
  await ctx.store.finishDirectCall(key, { ...outcome, duration_ms });
  return { status: 'completed', ...outcome, replayed: false, duration_ms, policy };
}

/** The ledger's answer for a key already used: its result, or a refusal to act twice. */
async function replay(ctx: EngineContext, key: string, effect: ToolEffect, args: unknown, timeoutMs: number, policy: PolicyRef): Promise<DirectOutcome | null> {
  const entry = await ctx.store.getToolCall(key);
  if (!entry) return null;
  if (argsHash(entry.args) !== argsHash(args)) {
    throw new AppError('IDEMPOTENCY_CONFLICT', `Idempotency-Key was used for a ${entry.tool} call with other arguments`, { details: { tool: entry.tool } });
  }
  if (entry.status === 'completed') return { status: 'completed', ok: true, result: entry.result, replayed: true, duration_ms: null, policy };
  if (entry.status === 'failed') return { status: 'completed', ok: false, error: entry.error!, replayed: true, duration_ms: null, policy };
  // Started, never finished: running now (within its timeout), or its process died. Only a side effect is unsafe to repeat.
  if (effect !== 'side_effect') return null;
  if (Date.now() - Date.parse(entry.started_at) < timeoutMs + IN_PROGRESS_MARGIN_MS) {
    throw new AppError('CALL_IN_PROGRESS', `${entry.tool} is running under this Idempotency-Key; retry to get its result`, {
      details: { tool: entry.tool, idempotency_key: key, retry_after_s: Math.ceil(timeoutMs / 1000) },
    });
  }
  return uncertain(entry.tool, key);
}

/** How long past its timeout a started call may still be finishing (recording its result). */
const IN_PROGRESS_MARGIN_MS = 5_000;

function uncertain(tool: string, key: string): never {
  throw new AppError('SIDE_EFFECT_UNCERTAIN', `${tool} was started with this Idempotency-Key and did not record a result; it has side effects, so it is not run again`, {
    details: { tool, idempotency_key: key },
  });
}
