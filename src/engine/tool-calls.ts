/**
 * Runs one turn's tool calls through the tool-call ledger. Each call has an idempotency key derived
 * from (task, step, attempt, turn, call index) and is recorded as started, then as finished with its
 * result, each record committed with its event. On resume, a finished call returns its recorded
 * result; a started-but-unfinished call runs again only when the tool is read-only or idempotent.
 */
import type { Observation, ToolCallRequest } from '../brains/types.js';
import { AppError, toAppError } from '../errors.js';
import type { LedgerEntry } from '../store/types.js';
import type { FileAccess, ToolContext, ToolEffect } from '../tools/types.js';
import { commit, type EngineContext } from './context.js';
import type { AttemptRun } from './agent-loop.js';

export function idempotencyKey(run: AttemptRun, turn: number, index: number): string {
  return `${run.task.id}:${run.step.id}:${run.attempt}:${turn}:${index}`;
}

/** Runs the calls, in parallel when all are read-only, else in order. Tool errors become observations. */
export async function runToolCalls(ctx: EngineContext, run: AttemptRun, turn: number, calls: ToolCallRequest[]): Promise<Observation[]> {
  const ledger = await ledgerOfTurn(ctx, run, turn, calls.length);
  const one = (call: ToolCallRequest, i: number) => runOne(ctx, run, turn, i, call, ledger[i] ?? null);
  const parallel = calls.every((c) => effectOf(ctx, c.tool) === 'read_only');
  if (parallel) return Promise.all(calls.map(one));
  const out: Observation[] = [];
  for (let i = 0; i < calls.length; i++) out.push(await one(calls[i]!, i));
  return out;
}

async function ledgerOfTurn(ctx: EngineContext, run: AttemptRun, turn: number, n: number): Promise<Array<LedgerEntry | null>> {
  return Promise.all(Array.from({ length: n }, (_, i) => ctx.store.getToolCall(idempotencyKey(run, turn, i))));
}

function effectOf(ctx: EngineContext, tool: string): ToolEffect {
  return ctx.tools.has(tool) ? ctx.tools.get(tool).effect : 'side_effect';
}

async function runOne(
  ctx: EngineContext,
  run: AttemptRun,
  turn: number,
  index: number,
  call: ToolCallRequest,
  recorded: LedgerEntry | null,
): Promise<Observation> {
  const key = idempotencyKey(run, turn, index);
  const call_id = `${run.step.id}.${run.attempt}.${turn}.${index}`;
  const base = { call_id, tool: call.tool, args: call.args };
  if (recorded && recorded.status !== 'started') {
    return recorded.status === 'completed' ? { ...base, ok: true, result: recorded.result } : { ...base, ok: false, error: recorded.error! };
  }
  const refusal = refuse(run, call.tool);
  if (refusal) return { ...base, ok: false, error: refusal.toInfo() };
  const effect = effectOf(ctx, call.tool);
  if (recorded && effect === 'side_effect') {
    // The call may or may not have acted on the world; running it again could do it twice.
    throw new AppError('SIDE_EFFECT_UNCERTAIN', `${call.tool} was interrupted after it started; it has side effects, so it is not run again`, {
      details: { tool: call.tool, idempotency_key: key, started_at: recorded.started_at },
    });
  }
  if (!recorded) await recordStart(ctx, run, turn, index, call, effect, key, call_id);
  return execute(ctx, run, call, key, base);
}

/** A call the step may not make: unknown tool, or one the agent is not allowed. */
function refuse(run: AttemptRun, tool: string): AppError | null {
  if (run.allowedTools.has(tool)) return null;
  return new AppError('TOOL_NOT_ALLOWED', `Tool "${tool}" is not available to the ${run.step.agent} agent in this step`, {
    details: { tool, allowed: [...run.allowedTools] },
  });
}

async function recordStart(
  ctx: EngineContext,
  run: AttemptRun,
  turn: number,
  index: number,
  call: ToolCallRequest,
  effect: ToolEffect,
  key: string,
  call_id: string,
): Promise<void> {
  await commit(ctx, run.task.id, async (w) => {
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
      data: { call_id, tool: call.tool, args: call.args ?? null, attempt: run.attempt, turn, idempotency_key: key },
    });
  });
}

async function execute(
  ctx: EngineContext,
  run: AttemptRun,
  call: ToolCallRequest,
  key: string,
  base: { call_id: string; tool: string; args: unknown },
): Promise<Observation> {
  const started = performance.now();
  let observation: Observation;
  try {
    const result = await ctx.tools.invoke(call.tool, call.args, toolContext(ctx, run, key));
    observation = { ...base, ok: true, result };
  } catch (err) {
    if (run.signal.aborted) throw run.signal.reason;
    observation = { ...base, ok: false, error: toAppError(err, 'TOOL_FAILED').toInfo() };
  }
  const duration_ms = Math.round(performance.now() - started);
  await commit(ctx, run.task.id, async (w) => {
    await w.finishToolCall(key, { ok: observation.ok, result: observation.result, error: observation.error, duration_ms });
    await w.append({
      type: 'tool_call_completed',
      step_id: run.step.id,
      data: {
        call_id: base.call_id,
        tool: call.tool,
        ok: observation.ok,
        duration_ms,
        ...(observation.ok ? { result: observation.result } : { error: observation.error }),
      },
    });
  });
  return observation;
}

function toolContext(ctx: EngineContext, run: AttemptRun, key: string): ToolContext {
  return {
    signal: run.signal,
    tenantId: run.task.tenant_id,
    taskId: run.task.id,
    stepId: run.step.id,
    idempotencyKey: key,
    files: taskFiles(ctx, run.task.tenant_id, run.task.files),
    documents: ctx.store.documentIndex(run.task.tenant_id),
  };
}

/** File access limited to the files attached to the task. */
export function taskFiles(ctx: EngineContext, tenantId: string, attached: string[] | null): FileAccess {
  const allowed = (id: string) => attached === null || attached.includes(id);
  const missing = (id: string) => new AppError('FILE_NOT_FOUND', `No file ${id} is attached to this task`, { details: { file_id: id } });
  return {
    get: async (id) => (allowed(id) ? ctx.store.getFile(id, tenantId) : null),
    read: async (id) => {
      const file = allowed(id) ? await ctx.store.readFile(id, tenantId) : null;
      if (!file) throw missing(id);
      return file;
    },
  };
}
