/**
 * Resume from the journal after the process stops mid-step: decisions already journaled are not
 * requested again, an unfinished read-only call runs again with the same idempotency key, and an
 * unfinished side-effecting call is not repeated blindly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ScriptedBrain } from '../src/brains/scripted.js';
import type { Decision } from '../src/brains/types.js';
import { createApp, type App } from '../src/compose.js';
import { loadConfig } from '../src/config/index.js';
import { sleep } from '../src/engine/retry.js';
import { createToolRegistry } from '../src/tools/index.js';
import type { ToolDefinition, ToolEffect } from '../src/tools/types.js';
import { waitForTask } from './support/server.js';
import { NO_APPROVALS } from './support/tools.js';
import { until } from './support/wait.js';

/** A tool that blocks on n = 1 until aborted while `gate.block`, else returns at once; counts runs per key. */
function gatedTool(name: string, effect: ToolEffect, gate: { block: boolean }, runs: Map<string, number>): ToolDefinition<{ n: number }, { n: number }> {
  return {
    name,
    description: 'gated',
    input: z.object({ n: z.number() }),
    output: z.object({ n: z.number() }),
    timeoutMs: 120_000,
    effect,
    run: async ({ n }, ctx) => {
      runs.set(ctx.idempotencyKey, (runs.get(ctx.idempotencyKey) ?? 0) + 1);
      if (gate.block && n === 1) await sleep(120_000, ctx.signal);
      return { n };
    },
  };
}

function scenario(tool: string, calls: Array<{ step: string; turn: number; attempt: number }>) {
  return new ScriptedBrain({
    plan: () => ({ rationale: 'r', steps: [{ id: 'a', agent: 'analyst', title: 'a', instruction: 'a', depends_on: [], tools: [tool] }] }),
    decide: (req): Decision => {
      calls.push({ step: req.step.id, turn: req.turn, attempt: req.attempt });
      if (req.turn < 2) return { type: 'tool_calls', calls: [{ tool, args: { n: req.turn } }] };
      return { type: 'final', output: { text: `done after ${req.history.length} turns`, sources: [] } };
    },
  });
}

const dirs: string[] = [];
const apps: App[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close(0).catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function open(dataDir: string, tool: string, effect: ToolEffect, gate: { block: boolean }, runs: Map<string, number>, calls: Array<{ step: string; turn: number; attempt: number }>): Promise<App> {
  const tools = createToolRegistry([]).register(gatedTool(tool, effect, gate, runs));
  const app = await createApp({ config: loadConfig({}, { dataDir, logLevel: 'silent', approvalRules: NO_APPROVALS }), brain: scenario(tool, calls), tools });
  apps.push(app);
  await app.startWorker();
  return app;
}


/** Runs the task until turn 1's tool call is in flight, then stops the process's engine abruptly. */
async function interruptAtTurnOne(dataDir: string, tool: string, effect: ToolEffect, runs: Map<string, number>, calls: Array<{ step: string; turn: number; attempt: number }>) {
  const first = await open(dataDir, tool, effect, { block: true }, runs, calls);
  // Turn 0's call returns at once; turn 1's call blocks until the engine stops.
  const { task } = await first.engine.submit({ tenantId: 'default', input: 'x', files: [], options: {}, start: true });
  await until(async () => (await first.store.listToolCalls(task.id)).length === 2);
  await first.close(0);
  apps.splice(apps.indexOf(first), 1);
  return task.id;
}

describe('resume from the journal', () => {
  it('continues a read-only call with the same key and asks the brain only for turns not journaled', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agentic-resume-'));
    dirs.push(dataDir);
    const runs = new Map<string, number>();
    const calls: Array<{ step: string; turn: number; attempt: number }> = [];
    const taskId = await interruptAtTurnOne(dataDir, 'lookup', 'read_only', runs, calls);
    expect(calls.map((c) => c.turn)).toEqual([0, 1]);

    const second = await open(dataDir, 'lookup', 'read_only', { block: false }, runs, calls);
    expect(await waitForTask(second, taskId)).toBe('completed');
    // Turns 0 and 1 came from the journal; only turn 2 was asked of the brain again.
    expect(calls.map((c) => c.turn)).toEqual([0, 1, 2]);
    expect(runs.get(`${taskId}:a:0:0`)).toBe(1);
    expect(runs.get(`${taskId}:a:1:0`)).toBe(2);
    expect((await second.store.getTask(taskId))?.final_output).toBe('done after 2 turns');
    const events = await second.store.listEvents(taskId, 0, 1000);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.filter((e) => e.type === 'task_resumed')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'step_started')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'tool_call_started')).toHaveLength(2);
    expect(events.filter((e) => e.type === 'tool_call_completed')).toHaveLength(2);
    expect(events.at(-1)?.type).toBe('task_completed');
  });

  it('does not run an interrupted side-effecting call again: the step fails with SIDE_EFFECT_UNCERTAIN', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agentic-resume-'));
    dirs.push(dataDir);
    const runs = new Map<string, number>();
    const calls: Array<{ step: string; turn: number; attempt: number }> = [];
    const taskId = await interruptAtTurnOne(dataDir, 'send', 'side_effect', runs, calls);

    const second = await open(dataDir, 'send', 'side_effect', { block: false }, runs, calls);
    expect(await waitForTask(second, taskId)).toBe('failed');
    expect(runs.get(`${taskId}:a:1:0`)).toBe(1);
    const task = await second.store.getTask(taskId);
    expect(task?.error?.code).toBe('SIDE_EFFECT_UNCERTAIN');
    const failed = (await second.store.listEvents(taskId, 0, 1000)).find((e) => e.type === 'step_failed');
    expect(JSON.stringify(failed?.data)).toContain('not run again');
  });
});
