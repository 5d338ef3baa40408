/**
 * Runs one turn's tool calls through the tool-call ledger. Each call has an idempotency key derived
 * from (task, step, turn, call index) and is recorded as started, then as finished with its
 * result, each record committed with its event. Read-only and idempotent calls are recorded as
 * started together with the decision that makes them; a side-effecting call gets its own "started"
 * record right before it runs. On resume, a finished call returns its recorded result; a call
 * recorded as started but not finished runs again with the same key only when the tool is
 * read-only or idempotent, never when it has side effects.
 */
import type { Observation, ToolCallRequest } from '../brains/types.js';
import { AppError, toAppError } from '../errors.js';
import type { LedgerEntry, TaskWriter } from '../store/types.js';
import type { FileAccess, ToolContext, ToolEffect } from '../tools/types.js';
import type { AttemptRun } from './agent-loop.js';
import { commit, type EngineContext } from './context.js';
import { sleep } from './retry.js';
import { policyRef } from './policies.js';
import type { PolicyVerdict } from '../policy/index.js';

/** The policy's verdict on each call of a turn, by call index; null for calls that never run (unknown tool, or not the agent's). */
export type TurnVerdicts = ReadonlyArray<PolicyVerdict | null>;

/** Asks the tool policy about every call of a turn (one lookup of the tenant's policy). */
export async function turnVerdicts(ctx: EngineContext, run: AttemptRun, calls: ToolCallRequest[]): Promise<TurnVerdicts> {
  const asked = calls.map((call, index) => ({ call, index })).filter(({ call }) => ctx.tools.has(call.tool, run.task.tenant_id) && !refusal(run, call.tool));
  const verdicts = await ctx.policies.decideAll(
    asked.map(({ call }) => ({
      tenantId: run.task.tenant_id,
      tool: call.tool,
      effect: effectOf(ctx, call.tool),
      args: call.args,
      via: 'task' as const,
      agent: run.step.agent,
      roles: run.task.created_by?.roles ?? [],
    })),
  );
  const byIndex: Array<PolicyVerdict | null> = calls.map(() => null);
  asked.forEach(({ index }, i) => (byIndex[index] = verdicts[i]!));
  return byIndex;
}

/** The observation of a call the policy denies: a refusal the model reads, naming the rule. */
function denial(verdict: PolicyVerdict, tool: string): AppError {
  return new AppError('TOOL_DENIED', `${tool} is not allowed here by the tool policy (${verdict.reason}; rule ${verdict.rule}); it did not run`, {
    details: { tool, ...policyRef(verdict) },
  });
}

/** Derived from (task, step, turn, call index): stable across resumes and retries of the step. */
export function idempotencyKey(run: AttemptRun, turn: number, index: number): string {
  return `${run.task.id}:${run.step.id}:${turn}:${index}`;
}

export function callId(run: AttemptRun, turn: number, index: number): string {
  return `${run.step.id}.${turn}.${index}`;
}

export function effectOf(ctx: EngineContext, tool: string): ToolEffect {
  return ctx.tools.has(tool) ? ctx.tools.get(tool).effect : 'side_effect';
}

/** A call the step may not make: unknown tool, or one the agent is not allowed. */
export function refusal(run: AttemptRun, tool: string): AppError | null {
  if (run.allowedTools.has(tool)) return null;
  return new AppError('TOOL_NOT_ALLOWED', `Tool "${tool}" is not available to the ${run.step.agent} agent in this step`, {
    details: { tool, allowed: [...run.allowedTools] },
  });
}

/**
 * Records, inside the decision's transaction, the start of the calls that may safely be run again
 * (read-only and idempotent ones), with their tool_call_started events.
 */
export async function recordSafeStarts(ctx: EngineContext, w: TaskWriter, run: AttemptRun, turn: number, calls: ToolCallRequest[], verdicts: TurnVerdicts): Promise<void> {
  for (const [index, call] of calls.entries()) {
    const effect = effectOf(ctx, call.tool);
    const verdict = verdicts[index];
    // A call waiting for approval is recorded when it is approved and runs, not before; a denied one never.
    if (!verdict || verdict.decision !== 'allow' || effect === 'side_effect') continue;
    await recordStart(w, run, turn, index, call, effect, verdict);
  }
}

async function recordStart(w: TaskWriter, run: AttemptRun, turn: number, index: number, call: ToolCallRequest, effect: ToolEffect, verdict: PolicyVerdict | null): Promise<void> {
  const key = idempotencyKey(run, turn, index);
  await w.startToolCall({
    idempotency_key: key,
    task_id: run.task.id,
    step_id: run.step.id,
    attempt: run.attempt,
    turn,
    call_index: index,
    tool: call.tool,
    effect,
    args: call.args ?? null,
  });
  await w.append({
    type: 'tool_call_started',
    step_id: run.step.id,
    data: {
      call_id: callId(run, turn, index),
      tool: call.tool,
      args: call.args ?? null,
      attempt: run.attempt,
      turn,
      idempotency_key: key,
      ...(verdict ? { policy: policyRef(verdict) } : {}),
    },
  });
}

interface CallPlan {
  call: ToolCallRequest;
  index: number;
  effect: ToolEffect;
  verdict: PolicyVerdict | null;
  /** What the ledger holds for this call: 'started' for fresh safe calls, the stored entry on resume. */
  recorded: LedgerEntry | 'started' | null;
}

/**
 * Runs the turn's calls (in parallel when all are read-only, else in order), records each result,
 * and journals the turn's observations with the last result. Tool errors become observations.
 */
export async function runToolCalls(
  ctx: EngineContext,
  run: AttemptRun,
  turn: number,
  calls: ToolCallRequest[],
  mode: 'fresh' | 'resume',
  verdicts: TurnVerdicts,
  /** Observations that take the place of running a call (rejected approvals), by call index. */
  decided: ReadonlyMap<number, Observation> = new Map(),
): Promise<Observation[]> {
  const plans = await planCalls(ctx, run, turn, calls, mode, verdicts);
  const observations: Observation[] = new Array(calls.length);
  for (const [index, o] of decided) observations[index] = o;
  const toRun = plans.filter((p) => !decided.has(p.index) && !settled(run, turn, p, observations));
  const complete = completion(run, turn, plans, observations);
  const finishing = { remaining: toRun.length, complete };
  const one = async (p: CallPlan) => {
    observations[p.index] = await execute(ctx, run, turn, p, observations, finishing);
  };
  if (toRun.every((p) => p.effect === 'read_only')) await Promise.all(toRun.map(one));
  else for (const p of toRun) await one(p);
  if (toRun.length === 0) await commit(ctx, run.task.id, complete);
  return observations;
}

/**
 * Journals the turn's observations, with a `tool_call_denied` event for each call the policy denied:
 * in the commit of the turn's last result, so each is recorded once, however often the turn resumes.
 */
function completion(run: AttemptRun, turn: number, plans: CallPlan[], observations: Observation[]): (w: TaskWriter) => Promise<void> {
  return async (w) => {
    for (const p of plans) {
      if (p.verdict?.decision !== 'deny') continue;
      await w.append({
        type: 'tool_call_denied',
        step_id: run.step.id,
        data: { call_id: callId(run, turn, p.index), tool: p.call.tool, args: p.call.args ?? null, reason: p.verdict.reason, policy: policyRef(p.verdict) },
      });
    }
    await w.completeTurn(run.step.id, turn, observations);
  };
}

async function planCalls(ctx: EngineContext, run: AttemptRun, turn: number, calls: ToolCallRequest[], mode: 'fresh' | 'resume', verdicts: TurnVerdicts): Promise<CallPlan[]> {
  return Promise.all(
    calls.map(async (call, index) => {
      const effect = effectOf(ctx, call.tool);
      const verdict = verdicts[index] ?? null;
      // Fresh safe calls the policy allowed were recorded as started with the decision (recordSafeStarts).
      const recorded =
        mode === 'resume'
          ? await ctx.store.getToolCall(idempotencyKey(run, turn, index))
          : effect === 'side_effect' || verdict?.decision !== 'allow'
            ? null
            : 'started';
      return { call, index, effect, verdict, recorded };
    }),
  );
}

/** Fills in the observation of a call that needs no run (refused, denied or already finished); true if so. */
function settled(run: AttemptRun, turn: number, p: CallPlan, observations: Observation[]): boolean {
  const base = { call_id: callId(run, turn, p.index), tool: p.call.tool, args: p.call.args };
  const refused = refusal(run, p.call.tool);
  if (refused) {
    observations[p.index] = { ...base, ok: false, error: refused.toInfo() };
    return true;
  }
  if (p.verdict?.decision === 'deny') {
    observations[p.index] = { ...base, ok: false, error: denial(p.verdict, p.call.tool).toInfo() };
    return true;
  }
  const r = p.recorded;
  if (r && r !== 'started' && r.status !== 'started') {
    observations[p.index] = r.status === 'completed' ? { ...base, ok: true, result: r.result } : { ...base, ok: false, error: r.error! };
    return true;
  }
  return false;
}

async function execute(
  ctx: EngineContext,
  run: AttemptRun,
  turn: number,
  p: CallPlan,
  observations: Observation[],
  finishing: { remaining: number; complete: (w: TaskWriter) => Promise<void> },
): Promise<Observation> {
  const key = idempotencyKey(run, turn, p.index);
  if (p.effect === 'side_effect') {
    if (p.recorded) {
      // It may or may not have acted on the world; running it again could do it twice.
      throw new AppError('SIDE_EFFECT_UNCERTAIN', `${p.call.tool} was interrupted after it started; it has side effects, so it is not run again`, {
        details: { tool: p.call.tool, idempotency_key: key },
      });
    }
    await commit(ctx, run.task.id, (w) => recordStart(w, run, turn, p.index, p.call, p.effect, p.verdict));
  } else if (!p.recorded) {
    await commit(ctx, run.task.id, (w) => recordStart(w, run, turn, p.index, p.call, p.effect, p.verdict));
  }
  const base = { call_id: callId(run, turn, p.index), tool: p.call.tool, args: p.call.args };
  const started = performance.now();
  let observation: Observation;
  try {
    const result = await ctx.tools.invoke(p.call.tool, p.call.args, toolContext(ctx, run, key));
    observation = { ...base, ok: true, result };
  } catch (err) {
    if (run.signal.aborted) throw run.signal.reason;
    observation = { ...base, ok: false, error: toAppError(err, 'TOOL_FAILED').toInfo() };
  }
  const duration_ms = Math.round(performance.now() - started);
  observations[p.index] = observation;
  const last = --finishing.remaining === 0;
  // The call has acted; losing its record now would make a retry repeat it, so keep trying through
  // a passing store outage.
  await commitSurely(ctx, run, async (w) => {
    await w.finishToolCall(key, { ok: observation.ok, result: observation.result, error: observation.error, duration_ms });
    await w.append({
      type: 'tool_call_completed',
      step_id: run.step.id,
      data: {
        call_id: base.call_id,
        tool: p.call.tool,
        ok: observation.ok,
        duration_ms,
        ...(observation.ok ? { result: observation.result } : { error: observation.error }),
      },
    });
    if (last) await finishing.complete(w);
  });
  return observation;
}

async function commitSurely(ctx: EngineContext, run: AttemptRun, fn: (w: TaskWriter) => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await commit(ctx, run.task.id, fn);
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'STORE_ERROR') || attempt >= RECORD_ATTEMPTS || run.signal.aborted) throw err;
      await sleep(Math.min(2000, 100 * 2 ** attempt));
    }
  }
}

/** Tries to record a finished call's result before giving up on a store that is down (about 20 s). */
const RECORD_ATTEMPTS = 12;

function toolContext(ctx: EngineContext, run: AttemptRun, key: string): ToolContext {
  return {
    signal: run.signal,
    tenantId: run.task.tenant_id,
    taskId: run.task.id,
    stepId: run.step.id,
    idempotencyKey: key,
    files: taskFiles(ctx, run.task.tenant_id, run.task.files),
    documents: ctx.store.documentIndex(run.task.tenant_id),
    artifacts: {
      save: async (name, data, contentType) => {
        if (!ARTIFACT_NAME.test(name) || name === '.' || name === '..') {
          throw new AppError('VALIDATION_ERROR', `Invalid artifact name ${JSON.stringify(name.slice(0, 50))}: a plain file name of at most 200 characters`);
        }
        return ctx.store.saveArtifact({ taskId: run.task.id, tenantId: run.task.tenant_id, stepId: run.step.id, name, contentType, data });
      },
    },
  };
}

/** A plain file name: no slashes or control characters. */
// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const ARTIFACT_NAME = /^[^/\\\u0000-\u001f]{1,200}$/;

/** File access limited to the files attached to the task. */
export function taskFiles(ctx: EngineContext, tenantId: string, attached: string[] | null): FileAccess {
  const allowed = (id: string) => attached === null || attached.includes(id);
  const missing = (id: string) => new AppError('FILE_NOT_FOUND', `No file ${id} is attached to this task`, { details: { file_id: id } });
  return {
    get: async (id) => (allowed(id) ? ctx.store.getFile(id, tenantId) : null),
    list: async () => (await Promise.all((attached ?? []).map((id) => ctx.store.getFile(id, tenantId)))).filter((f) => f !== null),
    read: async (id) => {
      const file = allowed(id) ? await ctx.store.readFile(id, tenantId) : null;
      if (!file) throw missing(id);
      return file;
    },
  };
}
