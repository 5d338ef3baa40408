/** Tools for engine tests: real ToolDefinitions with controllable behaviour. */
import { z } from 'zod';
import { AppError } from '../../src/errors.js';
import { sleep } from '../../src/engine/retry.js';
import type { ToolDefinition } from '../../src/tools/types.js';

/** Waits `ms`, honouring the abort signal; records when it saw an abort. */
export function sleepTool(log: { aborted: number }): ToolDefinition<{ ms: number }, { slept: number }> {
  return {
    name: 'sleep',
    description: 'Waits',
    input: z.object({ ms: z.number().int().min(0) }),
    output: z.object({ slept: z.number() }),
    timeoutMs: 60_000,
    effect: 'read_only',
    run: async ({ ms }, ctx) => {
      try {
        await sleep(ms, ctx.signal);
      } catch (err) {
        log.aborted++;
        throw err;
      }
      return { slept: ms };
    },
  };
}

/** Side-effecting tool that records each call by idempotency key (a local "sink"). */
export function sinkTool(calls: Map<string, number>): ToolDefinition<{ value: string }, { stored: string }> {
  return {
    name: 'sink',
    description: 'Stores a value somewhere outside',
    input: z.object({ value: z.string() }),
    output: z.object({ stored: z.string() }),
    timeoutMs: 5_000,
    effect: 'side_effect',
    run: async ({ value }, ctx) => {
      calls.set(ctx.idempotencyKey, (calls.get(ctx.idempotencyKey) ?? 0) + 1);
      return { stored: value };
    },
  };
}

/** Fails with a retryable error the first `failures` times it is called. */
export function flakyTool(state: { calls: number; failures: number }): ToolDefinition<Record<string, never>, { ok: boolean }> {
  return {
    name: 'flaky',
    description: 'Fails a few times',
    input: z.object({}).strict(),
    output: z.object({ ok: z.boolean() }),
    timeoutMs: 5_000,
    effect: 'read_only',
    run: async () => {
      state.calls++;
      if (state.calls <= state.failures) throw new AppError('TOOL_FAILED', `flaky failure ${state.calls}`);
      return { ok: true };
    },
  };
}

/** Approval rules under which no call waits for a person: for tests of the ledger, not of approvals. */
export const NO_APPROVALS = JSON.stringify([{ tool: '*', when: 'never' }]);
