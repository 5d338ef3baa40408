/**
 * A manager step delegates sub-tasks: the children are ordinary steps (journaled, streamed, run in
 * parallel where independent), the manager waits without a lease and resumes from its journal with
 * their outputs, and a child that fails fails its manager.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrain } from '../src/brains/scripted.js';
import type { DecideRequest, Decision, PlannedStep } from '../src/brains/types.js';
import type { App } from '../src/compose.js';
import { AppError } from '../src/errors.js';
import { startTestApp, waitForTask } from './support/server.js';

const step = (id: string, agent: string, depends_on: string[] = []): PlannedStep => ({ id, agent, title: id, instruction: id, depends_on, tools: [] });
const sub = (id: string, agent: string, depends_on: string[] = [], tools: string[] = []) => ({
  id,
  agent,
  title: `sub-task ${id}`,
  instruction: `do ${id}`,
  depends_on,
  success_criteria: [],
  tools,
});

const decided: DecideRequest[] = [];

/** Options script the manager: `delegations` is the list of delegate arguments it tries, in order; `fail` names children that fail. */
const brain = new ScriptedBrain({
  plan: () => ({ rationale: 'delegate', steps: [step('lead', 'manager'), step('report', 'writer', ['lead'])] }),
  decide: (req): Decision => {
    decided.push(req);
    const fail = (req.task.options.fail as string[] | undefined) ?? [];
    if (fail.includes(req.step.id)) throw new AppError('TOOL_ERROR', `${req.step.id} broke`);
    if (req.agent.name === 'manager') {
      const delegations = req.task.options.delegations as unknown[];
      const results = req.history.flatMap((h) => h.observations).filter((o) => o.tool === 'delegate');
      const last = results.at(-1);
      if (last?.ok) {
        const outputs = (last.result as { results: Array<{ step_id: string; output: string }> }).results;
        return { type: 'final', output: { text: outputs.map((o) => `${o.step_id}=${o.output}`).join('; '), sources: [] } };
      }
      return { type: 'tool_calls', calls: [{ tool: 'delegate', args: delegations[results.length] }] };
    }
    if (req.step.instruction === 'do a' && req.history.length === 0) {
      return { type: 'tool_calls', calls: [{ tool: 'calculator', args: { expression: '6*7' } }] };
    }
    const computed = req.history.flatMap((h) => h.observations).find((o) => o.tool === 'calculator')?.result as { result: number } | undefined;
    const deps = req.dependencies.map((d) => d.step_id).join(',');
    return { type: 'final', output: { text: `${req.step.id}${computed ? `(${computed.result})` : ''}${deps ? `<${deps}>` : ''}`, sources: [] } };
  },
});

let app: App;
beforeAll(async () => {
  app = await startTestApp({ brain, config: { retryAttempts: 1, maxParallelSteps: 2 } });
});
afterAll(async () => {
  await app?.close(500);
});

async function run(options: Record<string, unknown>) {
  const { task } = await app.engine.submit({ tenantId: 'default', input: 'a big job', files: [], options, start: true });
  const status = await waitForTask(app, task.id);
  const [record, events, steps] = await Promise.all([app.store.getTask(task.id), app.store.listEvents(task.id, 0, 1000), app.store.listSteps(task.id)]);
  return { id: task.id, status, task: record!, events, steps, byId: new Map(steps.map((s) => [s.id, s])) };
}

describe('delegation', () => {
  it('runs the sub-tasks as steps, then resumes the manager with their outputs', async () => {
    const r = await run({ delegations: [{ steps: [sub('a', 'analyst', [], ['calculator']), sub('b', 'researcher'), sub('c', 'writer', ['a', 'b'])] }] });
    expect(r.status).toBe('completed');
    // The children are ordinary steps of the plan, under the manager.
    for (const id of ['lead.a', 'lead.b', 'lead.c']) expect(r.byId.get(id)).toMatchObject({ parent_id: 'lead', plan_version: 1, status: 'completed' });
    expect(r.byId.get('lead.c')?.depends_on).toEqual(['lead.a', 'lead.b']);
    expect(r.byId.get('lead.a')?.output?.text).toBe('lead.a(42)');
    expect(r.byId.get('lead.c')?.output?.text).toBe('lead.c<lead.a,lead.b>');
    // The manager's answer is made of theirs; the writer builds on the manager's, and only it is the task's answer.
    expect(r.byId.get('lead')?.output?.text).toBe('lead.a=lead.a(42); lead.b=lead.b; lead.c=lead.c<lead.a,lead.b>');
    expect(r.task.final_output).toBe('report<lead>');
    // The manager was offered delegate; its delegating turn was decided once and replayed from the journal.
    const managerCalls = decided.filter((d) => d.task.id === r.id && d.step.id === 'lead');
    expect(managerCalls.map((d) => d.turn)).toEqual([0, 1]);
    expect(managerCalls[0]!.tools.map((t) => t.name)).toContain('delegate');
    expect(decided.find((d) => d.task.id === r.id && d.step.id === 'lead.a')!.tools.map((t) => t.name)).not.toContain('delegate');
    const turns = await app.store.listTurns(r.id, 'lead');
    expect(turns.map((t) => t.decision.type)).toEqual(['tool_calls', 'final']);
    expect(turns[0]!.observations?.[0]).toMatchObject({ tool: 'delegate', ok: true });
    // Streamed in order: the delegation, the children, then the manager's completion.
    const order = r.events.map((e) => `${e.type}:${e.step_id ?? ''}`);
    expect(r.events.find((e) => e.type === 'delegated')?.data).toMatchObject({ turn: 0, steps: [{ id: 'lead.a' }, { id: 'lead.b' }, { id: 'lead.c' }] });
    expect(order.indexOf('delegated:lead')).toBeLessThan(order.indexOf('step_started:lead.a'));
    expect(order.indexOf('step_completed:lead.c')).toBeLessThan(order.indexOf('step_completed:lead'));
    expect(order.filter((o) => o === 'step_started:lead')).toHaveLength(1);
    expect(r.events.map((e) => e.seq)).toEqual(r.events.map((_, i) => i + 1));
  });

  it('returns an invalid delegation to the manager as an error it can correct', async () => {
    const r = await run({
      delegations: [{ steps: [sub('x', 'manager'), sub('y', 'wizard'), sub('z', 'writer', ['nope'])] }, { steps: [sub('ok', 'researcher')] }],
    });
    expect(r.status).toBe('completed');
    const turns = await app.store.listTurns(r.id, 'lead');
    expect(turns[0]!.observations?.[0]).toMatchObject({ tool: 'delegate', ok: false, error: { code: 'TOOL_INPUT_INVALID' } });
    const message = turns[0]!.observations![0]!.error!.message;
    expect(message).toMatch(/unknown agent "manager"/);
    expect(message).toMatch(/unknown agent "wizard"/);
    expect(message).toMatch(/depends on "nope"/);
    expect([...r.byId.keys()].filter((id) => id.startsWith('lead.'))).toEqual(['lead.ok']);
    expect(r.byId.get('lead')?.output?.text).toBe('lead.ok=lead.ok');
  });

  it('refuses arguments that do not match the schema', async () => {
    const r = await run({ delegations: [{ steps: 'all of it' }, { steps: [sub('ok', 'analyst')] }] });
    expect(r.status).toBe('completed');
    const turns = await app.store.listTurns(r.id, 'lead');
    expect(turns[0]!.observations?.[0]).toMatchObject({ ok: false, error: { code: 'TOOL_INPUT_INVALID' } });
  });

  it('fails the manager and the task when a sub-task fails', async () => {
    const r = await run({ delegations: [{ steps: [sub('a', 'analyst'), sub('b', 'researcher', ['a'])] }], fail: ['lead.a'] });
    expect(r.status).toBe('failed');
    expect(r.task.error).toMatchObject({ code: 'TOOL_ERROR', details: { step_id: 'lead.a' } });
    expect(r.byId.get('lead')).toMatchObject({ status: 'failed', error: { code: 'DEPENDENCY_FAILED' } });
    expect(r.byId.get('lead.b')).toMatchObject({ status: 'failed', error: { code: 'DEPENDENCY_FAILED' } });
    expect(r.byId.get('report')).toMatchObject({ status: 'failed', error: { code: 'DEPENDENCY_FAILED' } });
  });
});
