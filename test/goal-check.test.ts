/**
 * The goal check at the end of a step and of the task: deterministic checks first, then the brain's
 * judge; the verdict is journaled and streamed (goal_checked), and a step whose answer is turned
 * down continues with the verdict as an observation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrain } from '../src/brains/scripted.js';
import type { Decision, JudgeRequest } from '../src/brains/types.js';
import type { App } from '../src/compose.js';
import { startTestApp, waitForTask } from './support/server.js';

const judged: JudgeRequest[] = [];
const brain = new ScriptedBrain({
  plan: (req) => ({
    rationale: 'r',
    steps: [
      {
        id: 'a',
        agent: 'analyst',
        title: 'a',
        instruction: 'compute',
        depends_on: [],
        tools: [],
        success_criteria: String(req.task.options.criteria ?? '') ? [String(req.task.options.criteria)] : [],
      },
    ],
  }),
  decide: (req): Decision => {
    const feedback = req.history.flatMap((h) => h.observations).filter((o) => o.tool === 'goal_check');
    const answers = (req.task.options.answers as string[]) ?? ['ok'];
    return { type: 'final', output: { text: answers[Math.min(feedback.length, answers.length - 1)]!, sources: [] } };
  },
  judge: (req) => {
    judged.push(req);
    const pass = !req.output.text.includes('vague');
    return { pass, reasons: pass ? [] : ['the answer is vague'] };
  },
});

let app: App;
beforeAll(async () => {
  app = await startTestApp({ brain });
});
afterAll(async () => {
  await app?.close(500);
});

async function run(options: Record<string, unknown>, input = 'compute it') {
  const { task } = await app.engine.submit({ tenantId: 'default', input, files: [], options, start: true });
  const status = await waitForTask(app, task.id);
  const events = await app.store.listEvents(task.id, 0, 1000);
  return { id: task.id, status, task: await app.store.getTask(task.id), events, checks: events.filter((e) => e.type === 'goal_checked') };
}

describe('goal check', () => {
  it('passes a good answer: deterministic checks, then the judge, journaled and streamed', async () => {
    const r = await run({ criteria: 'the answer says "42"', answers: ['The answer is 42.'] });
    expect(r.status).toBe('completed');
    expect(r.checks.map((e) => [e.step_id ?? null, (e.data as { pass: boolean }).pass])).toEqual([['a', true], [null, true]]);
    const step = r.checks[0]!.data as { checks: Array<{ name: string; pass: boolean }>; judge: { pass: boolean } };
    expect(step.checks.map((c) => c.name)).toEqual(['answer', 'criterion: the answer says "42"']);
    expect(step.judge.pass).toBe(true);
    const types = r.events.map((e) => e.type);
    expect(types.indexOf('goal_checked')).toBeLessThan(types.indexOf('step_completed'));
    const turns = await app.store.listTurns(r.id, 'a');
    expect(turns[0]?.observations?.[0]).toMatchObject({ tool: 'goal_check', ok: true });
  });

  it('turns down an answer that misses a testable criterion, and the step revises it', async () => {
    const before = judged.length;
    const r = await run({ criteria: 'mentions "Paris"', answers: ['It is in France.', 'It is Paris.'] });
    expect(r.status).toBe('completed');
    expect((await app.store.getTask(r.id))?.final_output).toBe('It is Paris.');
    const verdicts = r.checks.filter((e) => e.step_id === 'a').map((e) => (e.data as { pass: boolean; turn: number }).pass);
    expect(verdicts).toEqual([false, true]);
    // The deterministic check failed first, so the judge was not asked about the first answer.
    expect(judged.slice(before).map((j) => j.output.text)).toEqual(['It is Paris.', 'It is Paris.']);
    const turns = await app.store.listTurns(r.id, 'a');
    expect(turns[0]?.observations?.[0]).toMatchObject({ tool: 'goal_check', ok: false, error: { code: 'GOAL_NOT_MET' } });
  });

  it('ends the step with GOAL_NOT_MET when every answer is turned down', async () => {
    const r = await run({ criteria: 'is precise', answers: ['vague'], max_iterations: 3 });
    expect(r.status).toBe('failed');
    expect(r.task?.error?.code).toBe('GOAL_NOT_MET');
    expect(r.checks).toHaveLength(3);
  });

  it('fails the task when the judge finds its result misses the task, keeping the output', async () => {
    const r = await run({ answers: ['a vague result'] }, 'a task judged on its whole result');
    expect(r.status).toBe('failed');
    expect(r.task?.error?.code).toBe('GOAL_NOT_MET');
    expect(r.task?.final_output).toBe('a vague result');
    expect(r.checks.at(-1)?.step_id).toBeUndefined();
  });
});
