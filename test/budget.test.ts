/**
 * Hard budgets: the worst case of each model call is reserved before it is made, the output limit
 * shrinks to what is left, and when not even a short answer fits the task ends with BUDGET_EXCEEDED.
 * The budget is never exceeded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrain } from '../src/brains/scripted.js';
import type { Decision } from '../src/brains/types.js';
import type { App } from '../src/compose.js';
import { startTestApp, waitForTask } from './support/server.js';

const limits: Array<number | undefined> = [];
// Each call: prompt 100 tokens, up to 200 out; it reports 100 in + 50 out at $0.001 in, $0.002 out per token.
const brain = new ScriptedBrain({
  estimate: { prompt_tokens: 100, max_output_tokens: 200, calls: 1, usd_per_input_token: 0.001, usd_per_output_token: 0.002 },
  usage: () => ({ input_tokens: 100, output_tokens: 50, cost_usd: 100 * 0.001 + 50 * 0.002 }),
  plan: () => ({
    rationale: 'r',
    steps: [
      { id: 'a', agent: 'analyst', title: 'a', instruction: 'a', depends_on: [], tools: ['calculator'] },
      { id: 'b', agent: 'analyst', title: 'b', instruction: 'b', depends_on: [], tools: ['calculator'] },
    ],
  }),
  decide: (req, ctx): Decision => {
    limits.push(ctx.maxOutputTokens);
    if (req.task.options.endless) return { type: 'tool_calls', calls: [{ tool: 'calculator', args: { expression: '1+1' } }] };
    return { type: 'final', output: { text: 'done', sources: [] } };
  },
});

let app: App;
beforeAll(async () => {
  app = await startTestApp({ brain });
});
afterAll(async () => {
  await app?.close(500);
});

async function run(options: Record<string, unknown>) {
  const { task } = await app.engine.submit({ tenantId: 'default', input: 'budget', files: [], options, start: true });
  const status = await waitForTask(app, task.id);
  return { id: task.id, status, task: await app.store.getTask(task.id), usage: await app.store.taskUsage(task.id) };
}

describe('budgets', () => {
  it('ends the task with BUDGET_EXCEEDED before a call could pass the token budget, saying how much was used', async () => {
    limits.length = 0;
    const r = await run({ endless: true, budget_tokens: 1500, max_iterations: 50 });
    expect(r.status).toBe('failed');
    expect(r.task?.error?.code).toBe('BUDGET_EXCEEDED');
    expect(r.task?.error?.message).toMatch(/\d+ tokens and \$[\d.]+ used so far/);
    const used = r.usage.input_tokens + r.usage.output_tokens;
    expect(used).toBeLessThanOrEqual(1500);
    // Planning costs 150 (no estimate-bound clip needed); then the two parallel steps share what is left.
    expect(used).toBeGreaterThan(1500 - 2 * 300);
    // Output limits shrank as the budget ran low, and never went below the shortest useful answer.
    expect(limits.some((l) => l !== undefined && l < 200)).toBe(true);
    expect(limits.every((l) => l === undefined || l >= 32)).toBe(true);
  });

  it('keeps a cost budget the same way', async () => {
    const r = await run({ endless: true, budget_usd: 1, max_iterations: 50 });
    expect(r.status).toBe('failed');
    expect(r.task?.error?.code).toBe('BUDGET_EXCEEDED');
    expect(r.usage.cost_usd).toBeLessThanOrEqual(1);
    expect(r.task?.error?.details).toMatchObject({ budget_usd: 1, budget_tokens: null });
  });

  it('lets a task within its budget finish, and holds no reservation afterwards', async () => {
    const r = await run({ budget_tokens: 10_000 });
    expect(r.status).toBe('completed');
    expect(r.task?.reserved_tokens).toBe(0);
    const steps = await app.store.listSteps(r.id);
    expect(steps.map((s) => s.reserved_tokens)).toEqual([0, 0]);
  });

  it('refuses planning itself when the budget cannot cover it', async () => {
    const r = await run({ budget_tokens: 100 });
    expect(r.status).toBe('failed');
    expect(r.task?.error?.code).toBe('BUDGET_EXCEEDED');
    expect(r.usage.calls).toBe(0);
  });
});
