/**
 * Re-planning: when a step fails for good, or the task's result misses the task, a brain that can
 * revise plans is asked for a revised plan given what every step did; each plan is a new version,
 * kept; revisions are bounded by max_replans.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrain } from '../src/brains/scripted.js';
import type { DecideRequest, Decision, PlannedStep, ReplanRequest } from '../src/brains/types.js';
import type { App } from '../src/compose.js';
import { AppError } from '../src/errors.js';
import { createBuiltinTools, createToolRegistry } from '../src/tools/index.js';
import { startTestApp, waitForTask } from './support/server.js';
import { sinkTool } from './support/tools.js';
import { until } from './support/wait.js';

const step = (id: string, agent: string, depends_on: string[] = [], instruction = id): PlannedStep => ({
  id,
  agent,
  title: id,
  instruction,
  depends_on,
  tools: [],
});

const SLOW_MS = 300;
const revisions: ReplanRequest[] = [];
const decided: DecideRequest[] = [];

/**
 * The task's options script it: `v1` (the first plan), `v2` (every revision), `fail` (instructions
 * whose steps fail), `slow` (instructions whose decisions take long), `judge_rejects` (final outputs
 * the judge turns down).
 */
const brain = new ScriptedBrain({
  latencyMs: (kind, req) => (kind === 'decide' && ((req as DecideRequest).task.options.slow as string[] | undefined)?.includes((req as DecideRequest).step.instruction) ? SLOW_MS : 0),
  plan: (req) => ({ rationale: 'first', steps: req.task.options.v1 as PlannedStep[] }),
  replan: (req) => {
    revisions.push(req);
    const v2 = req.task.options.v2;
    if (v2 === 'cycle') return { rationale: 'bad', steps: [step('x', 'analyst', ['y']), step('y', 'analyst', ['x'])] };
    return { rationale: `revision ${req.revision.version}`, steps: v2 as PlannedStep[] };
  },
  decide: (req): Decision => {
    decided.push(req);
    if ((req.task.options.fail as string[] | undefined)?.includes(req.step.instruction)) {
      throw new AppError('TOOL_ERROR', `${req.step.instruction} cannot be done`);
    }
    const deps = req.dependencies.map((d) => d.output.text).join(' + ');
    return { type: 'final', output: { text: `${req.step.instruction}${deps ? ` from ${deps}` : ''}`, sources: [] } };
  },
  judge: (req) => {
    const rejected = req.step === null && (req.task.options.judge_rejects as string[] | undefined)?.some((t) => req.output.text.includes(t));
    return { pass: !rejected, reasons: rejected ? ['the answer is a draft'] : [] };
  },
});

let app: App;
beforeAll(async () => {
  app = await startTestApp({ brain, config: { retryAttempts: 1, maxReplans: 2 } });
});
afterAll(async () => {
  await app?.close(500);
});

async function run(options: Record<string, unknown>) {
  const { task } = await app.engine.submit({ tenantId: 'default', input: 'do the thing', files: [], options, start: true });
  const status = await waitForTask(app, task.id);
  const [record, events, steps, plans] = await Promise.all([
    app.store.getTask(task.id),
    app.store.listEvents(task.id, 0, 1000),
    app.store.listSteps(task.id),
    app.store.listPlans(task.id),
  ]);
  return { id: task.id, status, task: record!, events, steps, plans, byId: new Map(steps.map((s) => [s.id, s])) };
}

describe('re-planning', () => {
  it('revises the plan after a step fails for good, reusing what completed', async () => {
    const r = await run({
      v1: [step('research', 'researcher'), step('fetch', 'researcher'), step('write', 'writer', ['research', 'fetch'])],
      v2: [step('write', 'writer', ['research'], 'write from research only')],
      fail: ['fetch'],
    });
    expect(r.status).toBe('completed');
    // Both plans are kept; the second says why it exists.
    expect(r.plans.map((p) => p.version)).toEqual([1, 2]);
    expect(r.plans[1]!.reason).toMatchObject({ trigger: 'step_failed', step_id: 'fetch', error: { code: 'TOOL_ERROR' } });
    expect(r.task.plan_version).toBe(2);
    expect(r.task.replan_reason).toBeNull();
    // The revision's "write" got a fresh id, and depends on the completed step of plan 1.
    expect(r.plans[1]!.steps.map((s) => [s.id, s.depends_on])).toEqual([['write-v2', ['research']]]);
    expect(r.byId.get('write')).toMatchObject({ plan_version: 1, status: 'cancelled', error: { code: 'REPLANNED' } });
    expect(r.byId.get('fetch')).toMatchObject({ status: 'failed', error: { code: 'TOOL_ERROR' } });
    expect(r.byId.get('write-v2')).toMatchObject({ plan_version: 2, status: 'completed' });
    expect(r.task.final_output).toBe('write from research only from research');
    // The brain saw what every step did, and why.
    const req = revisions.find((q) => q.task.id === r.id)!;
    expect(req.revision.version).toBe(2);
    expect(req.revision.reason).toMatchObject({ trigger: 'step_failed', step_id: 'fetch' });
    expect(req.revision.steps.find((s) => s.id === 'research')).toMatchObject({ status: 'completed', output: 'research' });
    expect(req.revision.steps.find((s) => s.id === 'fetch')).toMatchObject({ status: 'failed', error: { code: 'TOOL_ERROR' } });
    // The log tells the story in order.
    const types = r.events.map((e) => e.type);
    const replanning = r.events.find((e) => e.type === 'replanning')!;
    expect(replanning.data).toMatchObject({ version: 2, trigger: 'step_failed', step_id: 'fetch', superseded: ['write'] });
    expect(types.filter((t) => t === 'plan_created')).toHaveLength(2);
    expect(types.indexOf('replanning')).toBeLessThan(types.lastIndexOf('plan_created'));
    expect(types.at(-1)).toBe('task_completed');
    expect(r.events.map((e) => e.seq)).toEqual(r.events.map((_, i) => i + 1));
  });

  it('revises the plan when the judge finds the result misses the task', async () => {
    const r = await run({
      v1: [step('draft', 'writer')],
      v2: [step('final', 'writer', ['draft'], 'polish')],
      judge_rejects: ['draft'],
    });
    // The revision's answer still quotes the draft, so the judge turns it down too, until max_replans is spent.
    expect(r.status).toBe('failed');
    expect(r.task.error?.code).toBe('GOAL_NOT_MET');
    expect(r.plans.map((p) => p.version)).toEqual([1, 2, 3]);
    expect(r.plans[1]!.reason).toMatchObject({ trigger: 'goal_not_met', error: { code: 'GOAL_NOT_MET' } });
    const verdicts = r.events.filter((e) => e.type === 'goal_checked' && !e.step_id).map((e) => (e.data as { pass: boolean }).pass);
    expect(verdicts).toEqual([false, false, false]);
  });

  it('completes once a revision meets the task', async () => {
    const r = await run({ v1: [step('draft', 'writer')], v2: [step('final', 'writer', [], 'the finished answer')], judge_rejects: ['draft'] });
    expect(r.status).toBe('completed');
    expect(r.task.final_output).toBe('the finished answer');
    expect(r.plans).toHaveLength(2);
    // Plan 1's completed step stays completed; only plan 2's steps make the answer.
    expect(r.byId.get('draft')?.status).toBe('completed');
  });

  it('stops after max_replans revisions and fails with the step\'s error', async () => {
    const r = await run({ v1: [step('a', 'analyst')], v2: [step('a', 'analyst')], fail: ['a'], max_replans: 1 });
    expect(r.status).toBe('failed');
    expect(r.task.error).toMatchObject({ code: 'TOOL_ERROR', details: { step_id: 'a-v2' } });
    expect(r.plans.map((p) => p.version)).toEqual([1, 2]);
    expect(r.events.filter((e) => e.type === 'replanning')).toHaveLength(1);
  });

  it('does not re-plan when max_replans is 0', async () => {
    const r = await run({ v1: [step('a', 'analyst')], v2: [step('a', 'analyst')], fail: ['a'], max_replans: 0 });
    expect(r.status).toBe('failed');
    expect(r.plans).toHaveLength(1);
    expect(r.events.some((e) => e.type === 'replanning')).toBe(false);
  });

  it('fails with the planner\'s error, naming what it revised, when the revision is invalid', async () => {
    const r = await run({ v1: [step('a', 'analyst')], v2: 'cycle', fail: ['a'] });
    expect(r.status).toBe('failed');
    expect(r.task.error?.code).toBe('PLAN_INVALID');
    expect(r.task.error?.message).toMatch(/^Re-planning failed: .*cycle.*\(after: a cannot be done\)/);
    expect(r.task.error?.details).toMatchObject({ replanning: { trigger: 'step_failed', step_id: 'a' } });
    expect(r.plans).toHaveLength(1);
  });

  it('lets running steps finish before revising, and offers their output to the revision', async () => {
    const r = await run({
      v1: [step('slow', 'researcher', [], 'slow'), step('bad', 'analyst'), step('join', 'writer', ['slow', 'bad'])],
      v2: [step('join', 'writer', ['slow'], 'join again')],
      fail: ['bad'],
      slow: ['slow'],
    });
    expect(r.status).toBe('completed');
    expect(r.byId.get('slow')).toMatchObject({ plan_version: 1, status: 'completed' });
    expect(r.byId.get('join')).toMatchObject({ status: 'cancelled', error: { code: 'REPLANNED' } });
    expect(r.task.final_output).toBe('join again from slow');
    // The revision was asked for only after the running step had finished.
    const types = r.events.map((e) => `${e.type}:${e.step_id ?? ''}`);
    expect(types.indexOf('step_completed:slow')).toBeLessThan(types.indexOf('replanning:'));
    expect(types.indexOf('step_failed:join')).toBeLessThan(types.indexOf('step_completed:slow'));
    expect(r.events.find((e) => e.type === 'replanning')?.data).toMatchObject({ step_id: 'bad', superseded: ['join'] });
    const req = revisions.find((q) => q.task.id === r.id)!;
    expect(req.revision.steps.find((s) => s.id === 'slow')).toMatchObject({ status: 'completed', output: 'slow' });
  });
});

describe('re-planning while a step waits for approval', () => {
  const sunk = new Map<string, number>();
  const approvalBrain = new ScriptedBrain({
    plan: () => ({ rationale: 'first', steps: [step('mail', 'writer'), step('bad', 'analyst')].map((st) => (st.id === 'mail' ? { ...st, tools: ['sink'] } : st)) }),
    replan: () => ({ rationale: 'revised', steps: [step('final', 'writer', [], 'the revised answer')] }),
    decide: (req): Decision => {
      if (req.step.id === 'bad') throw new AppError('TOOL_ERROR', 'bad cannot be done');
      if (req.step.id === 'mail' && req.history.length === 0) return { type: 'tool_calls', calls: [{ tool: 'sink', args: { value: 'send it' } }] };
      return { type: 'final', output: { text: req.step.instruction, sources: [] } };
    },
  });
  let approvalApp: App;
  beforeAll(async () => {
    const tools = createToolRegistry([...createBuiltinTools(), sinkTool(sunk)]);
    approvalApp = await startTestApp({ brain: approvalBrain, tools, config: { retryAttempts: 1, maxReplans: 1, reconcileMs: 100 } });
  });
  afterAll(async () => {
    await approvalApp?.close(500);
  });

  it('supersedes the waiting step, closes its request, and never makes its call', async () => {
    const { task } = await approvalApp.engine.submit({ tenantId: 'default', input: 'mail it', files: [], options: {}, start: true });
    expect(await waitForTask(approvalApp, task.id)).toBe('completed');
    expect((await approvalApp.store.getTask(task.id))?.final_output).toBe('the revised answer');
    const steps = new Map((await approvalApp.store.listSteps(task.id)).map((st) => [st.id, st]));
    expect(steps.get('mail')).toMatchObject({ status: 'cancelled', error: { code: 'REPLANNED' } });
    // The request is closed by the reconciler: nothing waits for it any more, and deciding it now changes nothing.
    await until(async () => (await approvalApp.store.listApprovals({ tenantId: 'default', taskId: task.id, status: ['pending'], limit: 5 })).items.length === 0);
    const [request] = (await approvalApp.store.listApprovals({ tenantId: 'default', taskId: task.id, status: ['rejected'], limit: 5 })).items;
    expect(request).toMatchObject({ tool: 'sink', decided_by: 'system' });
    expect([...sunk.keys()].filter((k) => k.startsWith(task.id))).toEqual([]);
    const events = await approvalApp.store.listEvents(task.id, 0, 1000);
    expect(events.at(-1)?.type).toBe('task_completed');
    expect(events.filter((e) => e.type === 'task_completed')).toHaveLength(1);
  });
});
