/**
 * Human approval of risky tool calls. Before a turn's calls run, each is checked against the tool
 * policy (src/policy); a call it answers `ask` for gets a request bound to
 * its ledger key and the hash of its exact arguments; while any request of the turn is pending, no
 * call of the turn runs: the step parks as `waiting` (no lease), the task shows `awaiting_approval`,
 * and `approval_requested` names the tool, the arguments and their hash. A decision (or the
 * request's expiry, with its default) wakes the step, whose run replays its journal and comes back
 * here: approved calls run, rejected ones become observations the agent sees, not crashes.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Observation, ToolCallRequest } from '../brains/types.js';
import type { Job } from '../queue/types.js';
import type { ApprovalRecord, NewApproval } from '../store/types.js';
import type { AttemptRun } from './agent-loop.js';
import { commit, dispatch, type EngineContext } from './context.js';
import { policyRef } from './policies.js';
import { parkStep } from './replanning.js';
import { callId, idempotencyKey, type TurnVerdicts } from './tool-calls.js';

/** SHA-256 of the arguments as canonical JSON (keys sorted), the hash an approval is bound to. */
export function argsHash(args: unknown): string {
  return createHash('sha256').update(canonicalJson(args ?? null)).digest('hex');
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** A request for one call: bound to its ledger key and argument hash, expiring per the policy. */
export function approvalRequest(
  ctx: EngineContext,
  call: Pick<NewApproval, 'tenant_id' | 'task_id' | 'step_id' | 'turn' | 'call_index' | 'idempotency_key' | 'tool' | 'args' | 'rule' | 'requested_by'>,
): NewApproval {
  return {
    ...call,
    id: randomUUID(),
    args: call.args ?? null,
    args_hash: argsHash(call.args),
    expires_at: new Date(Date.now() + ctx.approvals.ttlMs).toISOString(),
    default_decision: ctx.approvals.defaultDecision,
  };
}

/**
 * The approval gate of a turn: calls the policy answers `ask` for. Returns 'waiting' when the step
 * parked for decisions, else the observations of rejected calls (by call index), which take the place
 * of running them.
 */
export async function approvalGate(ctx: EngineContext, run: AttemptRun, turn: number, calls: ToolCallRequest[], verdicts: TurnVerdicts): Promise<'waiting' | Map<number, Observation>> {
  const rejected = new Map<number, Observation>();
  const asked = calls.flatMap((call, index) => {
    const verdict = verdicts[index];
    return verdict?.decision === 'ask' ? [{ call, index, reason: verdict.reason }] : [];
  });
  if (asked.length === 0) return rejected;
  const approvals = await Promise.all(
    asked.map(({ call, index, reason }) =>
      ctx.store.requestApproval(
        approvalRequest(ctx, {
          tenant_id: run.task.tenant_id,
          task_id: run.task.id,
          step_id: run.step.id,
          turn,
          call_index: index,
          idempotency_key: idempotencyKey(run, turn, index),
          tool: call.tool,
          args: call.args,
          rule: reason,
          requested_by: run.task.created_by?.id ?? null,
        }),
      ),
    ),
  );
  const pending = approvals.filter((a) => a.status === 'pending');
  if (pending.length > 0) {
    await park(ctx, run, turn, pending, verdicts);
    // A decision made before the step had parked found nothing to wake: look once more.
    await wakeAfterDecisions(ctx, run.task.id, run.step.id);
    return 'waiting';
  }
  for (const a of approvals) {
    if (a.status === 'rejected') rejected.set(a.call_index!, rejection(run, turn, calls[a.call_index!]!, a));
  }
  return rejected;
}

/**
 * Parks the step until its requests are decided, and announces them, in one transaction. While the
 * plan is being revised the step is superseded instead (its requests are then closed by the reconciler).
 */
async function park(ctx: EngineContext, run: AttemptRun, turn: number, pending: ApprovalRecord[], verdicts: TurnVerdicts): Promise<void> {
  const jobs = await commit(ctx, run.task.id, async (w): Promise<Job[]> => {
    const superseded = await parkStep(w, run.step.id, ctx.workerId);
    if (superseded) return superseded;
    if (w.task.status === 'running') await w.updateTask({ status: 'awaiting_approval' });
    for (const a of pending) {
      await w.append({
        type: 'approval_requested',
        step_id: run.step.id,
        data: {
          approval_id: a.id,
          call_id: callId(run, turn, a.call_index!),
          tool: a.tool,
          args: a.args,
          args_hash: a.args_hash,
          reason: a.rule ?? '',
          expires_at: a.expires_at,
          default_decision: a.default_decision,
          requested_by: a.requested_by,
          ...(verdicts[a.call_index!] ? { policy: policyRef(verdicts[a.call_index!]!) } : {}),
        },
      });
    }
    return [];
  });
  await dispatch(ctx, jobs);
}

function rejection(run: AttemptRun, turn: number, call: ToolCallRequest, a: ApprovalRecord): Observation {
  const why = a.expired ? 'the request expired without a decision' : `${a.decided_by ?? 'someone'} rejected it${a.reason ? `: ${a.reason}` : ''}`;
  return {
    call_id: callId(run, turn, a.call_index!),
    tool: call.tool,
    args: call.args,
    ok: false,
    error: {
      code: 'APPROVAL_REJECTED',
      message: `${call.tool} was not approved (${why}); it did not run`,
      details: { approval_id: a.id, decided_by: a.decided_by, reason: a.reason, expired: a.expired },
    },
  };
}

/**
 * After a decision (or an expiry): when the step waits and none of its requests is pending any more,
 * announces the decisions and makes the step ready; the task is `running` again once no request of it
 * is pending. Safe to call more than once: only the call that finds the step waiting acts.
 */
export async function wakeAfterDecisions(ctx: EngineContext, taskId: string, stepId: string): Promise<void> {
  const approvals = await ctx.store.stepApprovals(taskId, stepId);
  if (approvals.length === 0 || approvals.some((a) => a.status === 'pending')) return;
  const lastTurn = Math.max(...approvals.map((a) => a.turn ?? 0));
  const jobs = await commit(ctx, taskId, async (w): Promise<Job[]> => {
    const woken = await w.updateStep(stepId, { status: 'ready', ready_at: new Date().toISOString() }, { status: ['waiting'] });
    if (!woken) return [];
    // Still awaiting approval while another step waits on one (a waiting step without sub-tasks waits on approvals).
    const steps = await w.listSteps();
    const awaiting = steps.some((s) => s.status === 'waiting' && !steps.some((c) => c.parent_id === s.id));
    if (w.task.status === 'awaiting_approval' && !awaiting) await w.updateTask({ status: 'running' });
    for (const a of approvals.filter((x) => x.turn === lastTurn)) {
      await w.append({
        type: 'approval_decided',
        step_id: stepId,
        data: { approval_id: a.id, tool: a.tool, decision: a.status === 'approved' ? 'approve' : 'reject', decided_by: a.decided_by ?? '', reason: a.reason, expired: a.expired },
      });
    }
    return [{ kind: 'step', taskId, stepId }];
  });
  await dispatch(ctx, jobs);
}

/**
 * The reconciler's part: closes requests nothing waits for any more (their task or step ended),
 * applies the default to expired ones, and wakes steps whose wake-up was lost.
 */
export async function settleApprovals(ctx: EngineContext): Promise<number> {
  // One cheap look first: most passes of most services have nothing waiting on a person.
  if (!(await ctx.store.hasApprovalWork())) return 0;
  await ctx.store.closeOrphanedApprovals();
  await ctx.store.expireApprovals(100);
  // Steps whose requests just expired are among these, with any whose wake-up was lost.
  const waits = await ctx.store.findDecidedWaits(100);
  for (const w of waits) await wakeAfterDecisions(ctx, w.task_id, w.step_id);
  return waits.length;
}
