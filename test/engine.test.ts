/**
 * The engine end to end on the embedded store, with a scripted brain and real test tools:
 * DAG order and parallelism, retries, failures, limits, cancel and deadline.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrain } from '../src/brains/scripted.js';
import type { DecideRequest, Decision, PlannedStep } from '../src/brains/types.js';
import { createApp, type App } from '../src/compose.js';
import { loadConfig } from '../src/config/index.js';
import { AppError } from '../src/errors.js';
import type { TaskEvent } from '../src/events/types.js';
import { createToolRegistry, createBuiltinTools } from '../src/tools/index.js';
import { NO_APPROVALS, sinkTool, sleepTool } from './support/tools.js';
import { waitForTask } from './support/server.js';
import { until } from './support/wait.js';

type Script = (req: DecideRequest) => Decision | Promise<Decision>;

/** Plans and step scripts come from the task's options, so one app serves every scenario. */
const plans = new Map<string, PlannedStep[]>();
const scripts = new Map<string, Script>();
const decideCalls: Array<{ task: string; step: string; turn: number; attempt: number }> = [];
const sleepLog = { aborted: 0 };
const sinkCalls = new Map<string, number>();

const brain = new ScriptedBrain({
  plan: (req) => ({ rationale: 'scripted', steps: plans.get(String(req.task.options.scenario))! }),
  decide: (req) => {
    decideCalls.push({ task: req.task.id, step: req.step.id, turn: req.turn, attempt: req.attempt });
    return scripts.get(String(req.task.options.scenario))!(req);
  },
  latencyMs: (kind, req) => (kind === 'decide' ? Number((req as DecideRequest).step.params?.latency ?? 0) : 0),
});

let app: App;

beforeAll(async () => {
  const tools = createToolRegistry([...createBuiltinTools()]);
  tools.register(sleepTool(sleepLog)).register(sinkTool(sinkCalls));
  // The side-effecting test tools run without approval here: these tests are about the ledger (approvals: approvals.test.ts).
  const config = loadConfig({}, { dataDir: ':memory:', logLevel: 'silent', retryBaseMs: 5, retryCapMs: 20, approvalRules: NO_APPROVALS });
  app = await createApp({ config, brain, tools });
  await app.startWorker();
});

afterAll(async () => {
  await app?.close(500);
});

function step(id: string, depends_on: string[] = [], params: Record<string, unknown> = {}, agent = 'analyst'): PlannedStep {
  return { id, agent, title: `step ${id}`, instruction: `do ${id}`, depends_on, tools: ['sleep', 'sink'], params };
}

const final = (text: string): Decision => ({ type: 'final', output: { text, sources: [] } });

async function run(scenario: string, options: Record<string, unknown> = {}): Promise<{ id: string; status: string; events: TaskEvent[] }> {
  const { task } = await app.engine.submit({ tenantId: 'default', input: scenario, files: [], options: { scenario, ...options }, start: true });
  const status = await waitForTask(app, task.id);
  return { id: task.id, status, events: await app.store.listEvents(task.id, 0, 10_000) };
}

function expectGapFreeLog(events: TaskEvent[]): void {
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  expect(events.filter((e) => e.type === 'task_created')).toHaveLength(1);
  const terminal = events.filter((e) => ['task_completed', 'task_failed', 'task_cancelled'].includes(e.type));
  expect(terminal).toHaveLength(1);
  expect(events[events.length - 1]).toBe(terminal[0]);
}

function expectOneEndingPerStep(events: TaskEvent[], stepIds: string[]): void {
  for (const id of stepIds) {
    const endings = events.filter((e) => e.step_id === id && (e.type === 'step_completed' || e.type === 'step_failed'));
    expect(endings, `step ${id}`).toHaveLength(1);
  }
}

describe('engine', () => {
  it('runs independent steps in parallel and never a step before its dependencies', async () => {
    plans.set('parallel', [step('a', [], { latency: 400 }), step('b', [], { latency: 400 }), step('c', [], { latency: 400 }), step('w', ['a', 'b', 'c'], {}, 'writer')]);
    scripts.set('parallel', (req) =>
      req.step.id === 'w' ? final(req.dependencies.map((d) => d.output.text).join('+')) : final(`out-${req.step.id}`),
    );
    const r = await run('parallel');
    expect(r.status).toBe('completed');
    const steps = await app.store.listSteps(r.id);
    const byId = Object.fromEntries(steps.map((s) => [s.id, s]));
    const t = (iso: string | null) => Date.parse(iso!);
    // Each pair of independent steps overlapped in time: they ran together, not one after another.
    for (const [x, y] of [['a', 'b'], ['a', 'c'], ['b', 'c']] as const) {
      expect(t(byId[x]!.started_at) < t(byId[y]!.completed_at) && t(byId[y]!.started_at) < t(byId[x]!.completed_at)).toBe(true);
    }
    // The writer started only after all three finished, and saw their outputs in plan order.
    for (const dep of ['a', 'b', 'c']) expect(t(byId.w!.started_at)).toBeGreaterThanOrEqual(t(byId[dep]!.completed_at));
    const task = await app.store.getTask(r.id);
    expect(task?.final_output).toBe('out-a+out-b+out-c');
    expectGapFreeLog(r.events);
    expectOneEndingPerStep(r.events, ['a', 'b', 'c', 'w']);
  });

  it('bounds parallel steps per task with max_parallel_steps', async () => {
    plans.set('serial', [step('a', [], { latency: 100 }), step('b', [], { latency: 100 }), step('c', [], { latency: 100 })]);
    scripts.set('serial', (req) => final(req.step.id));
    const r = await run('serial', { max_parallel_steps: 1 });
    expect(r.status).toBe('completed');
    const steps = (await app.store.listSteps(r.id)).sort((x, y) => Date.parse(x.started_at!) - Date.parse(y.started_at!));
    for (let i = 1; i < steps.length; i++) {
      expect(Date.parse(steps[i]!.started_at!)).toBeGreaterThanOrEqual(Date.parse(steps[i - 1]!.completed_at!));
    }
  });

  it('runs the reason-act loop: tool calls are journaled, observed, then a final answer', async () => {
    plans.set('loop', [step('a')]);
    scripts.set('loop', (req) => {
      if (req.turn < 2) return { type: 'tool_calls', calls: [{ tool: 'sleep', args: { ms: 1 } }, { tool: 'calculator', args: { expression: `${req.turn} + 40` } }] };
      const sums = req.history.map((h) => (h.observations[1]!.result as { result: number }).result);
      return final(`sums ${sums.join(',')}`);
    });
    const r = await run('loop');
    expect(r.status).toBe('completed');
    expect((await app.store.getTask(r.id))?.final_output).toBe('sums 40,41');
    const turns = await app.store.listTurns(r.id, 'a');
    expect(turns.map((t) => [t.turn, t.decision.type, t.observations?.length])).toEqual([[0, 'tool_calls', 2], [1, 'tool_calls', 2], [2, 'final', 1]]);
    const calls = await app.store.listToolCalls(r.id);
    expect(calls.map((c) => [c.tool, c.status, c.idempotency_key])).toEqual(
      expect.arrayContaining([['calculator', 'completed', `${r.id}:a:0:1`], ['sleep', 'completed', `${r.id}:a:1:0`]]),
    );
    expect(r.events.filter((e) => e.type === 'tool_call_started')).toHaveLength(4);
    expect(r.events.filter((e) => e.type === 'tool_call_completed')).toHaveLength(4);
    expectGapFreeLog(r.events);
  });

  it('returns invalid tool arguments and unknown tools to the brain as observations', async () => {
    plans.set('badargs', [step('a')]);
    scripts.set('badargs', (req) =>
      req.turn === 0
        ? { type: 'tool_calls', calls: [{ tool: 'calculator', args: { expression: 42 } }, { tool: 'rm_rf', args: {} }] }
        : final(req.history[0]!.observations.map((o) => o.error?.code).join(',')),
    );
    const r = await run('badargs');
    expect(r.status).toBe('completed');
    expect((await app.store.getTask(r.id))?.final_output).toBe('TOOL_INPUT_INVALID,TOOL_NOT_ALLOWED');
  });

  it('retries retryable failures with step_retrying events, then succeeds', async () => {
    plans.set('retry', [step('a')]);
    scripts.set('retry', (req) => {
      if (req.attempt < 3) throw new AppError('BRAIN_ERROR', `provider hiccup ${req.attempt}`);
      return final('third time lucky');
    });
    const r = await run('retry');
    expect(r.status).toBe('completed');
    const retrying = r.events.filter((e) => e.type === 'step_retrying');
    expect(retrying.map((e) => (e.data as { attempt: number }).attempt)).toEqual([1, 2]);
    for (const e of retrying) {
      const d = e.data as { delay_ms: number; error: { code: string } };
      expect(d.error.code).toBe('BRAIN_ERROR');
      expect(d.delay_ms).toBeGreaterThanOrEqual(0);
      expect(d.delay_ms).toBeLessThanOrEqual(20);
    }
    expect((await app.store.getStep(r.id, 'a'))?.attempt).toBe(3);
    expectOneEndingPerStep(r.events, ['a']);
    expect(r.events.filter((e) => e.type === 'step_started')).toHaveLength(1);
  });

  it('commits a final answer together with the step completion, and journals it there', async () => {
    plans.set('final-with-completion', [step('a')]);
    scripts.set('final-with-completion', () => final('done at once'));
    const writes: string[] = [];
    const write = app.store.write.bind(app.store);
    app.store.write = (taskId, fn) => {
      writes.push(taskId);
      return write(taskId, fn);
    };
    try {
      const r = await run('final-with-completion');
      expect(r.status).toBe('completed');
      // Start planning, the plan, the claim, and the completion with its final turn: no write of its own for the answer.
      expect(writes.filter((id) => id === r.id)).toHaveLength(4);
      const turns = await app.store.listTurns(r.id, 'a');
      expect(turns.map((t) => [t.turn, t.decision.type, t.observations?.length])).toEqual([[0, 'final', 1]]);
      const types = r.events.map((e) => e.type);
      expect(types.slice(-3)).toEqual(['step_completed', 'goal_checked', 'task_completed']);
      // The answer's model call is counted in the step's usage, committed with it.
      expect((await app.store.taskUsage(r.id)).by_step.a?.calls).toBe(1);
      expectGapFreeLog(r.events);
    } finally {
      app.store.write = write;
    }
  });

  it('records the usage of a final answer whose step was cancelled before it could complete', async () => {
    plans.set('final-after-cancel', [step('a')]);
    scripts.set('final-after-cancel', async (req) => {
      // The task is cancelled while the model answers; the answer still arrives and was paid for.
      await app.engine.cancel(req.task.id);
      return final('too late');
    });
    const r = await run('final-after-cancel');
    expect(r.status).toBe('cancelled');
    expect(await app.store.listTurns(r.id, 'a')).toEqual([]);
    // The plan and the answer: the answer's call is counted although its turn is not journaled.
    await until(async () => (await app.store.taskUsage(r.id)).calls === 2);
  });

  it('continues the journal on retry: a side effect made before the failure is not made again', async () => {
    plans.set('retry-effect', [step('a')]);
    scripts.set('retry-effect', (req) => {
      if (req.turn === 0) return { type: 'tool_calls', calls: [{ tool: 'sink', args: { value: 'once' } }] };
      if (req.attempt === 1) throw new AppError('BRAIN_ERROR', 'provider hiccup after the side effect');
      return final(`after ${req.history.length} journaled turn(s)`);
    });
    const before = decideCalls.length;
    const r = await run('retry-effect');
    expect(r.status).toBe('completed');
    expect(sinkCalls.get(`${r.id}:a:0:0`)).toBe(1);
    expect([...sinkCalls.keys()].filter((k) => k.startsWith(r.id))).toHaveLength(1);
    // Attempt 2 asked only for turn 1; turn 0 came from the journal.
    expect(decideCalls.slice(before).filter((c) => c.task === r.id).map((c) => [c.attempt, c.turn])).toEqual([[1, 0], [1, 1], [2, 1]]);
    expect((await app.store.getTask(r.id))?.final_output).toBe('after 1 journaled turn(s)');
  });

  it('fails after the configured attempts; the task fails with the step error code', async () => {
    plans.set('exhaust', [step('a')]);
    scripts.set('exhaust', () => {
      throw new AppError('BRAIN_ERROR', 'always down');
    });
    const r = await run('exhaust', { retry_attempts: 2 });
    expect(r.status).toBe('failed');
    const task = await app.store.getTask(r.id);
    expect(task?.error?.code).toBe('BRAIN_ERROR');
    expect(r.events.filter((e) => e.type === 'step_retrying')).toHaveLength(1);
    expect((await app.store.getStep(r.id, 'a'))?.attempt).toBe(2);
  });

  it('fails non-retryable errors at once, fails dependents, and keeps outputs already produced', async () => {
    plans.set('fail', [step('ok'), step('bad'), step('after', ['bad']), step('w', ['ok', 'after'], {}, 'writer')]);
    scripts.set('fail', (req) => {
      if (req.step.id === 'bad') throw new AppError('TOOL_ERROR', 'the data is unusable');
      return final(`done ${req.step.id}`);
    });
    const r = await run('fail');
    expect(r.status).toBe('failed');
    const steps = Object.fromEntries((await app.store.listSteps(r.id)).map((s) => [s.id, s]));
    expect(steps.bad?.status).toBe('failed');
    expect(steps.bad?.attempt).toBe(1);
    expect(steps.bad?.error?.code).toBe('TOOL_ERROR');
    expect(steps.after?.error?.code).toBe('DEPENDENCY_FAILED');
    expect(steps.w?.error?.code).toBe('DEPENDENCY_FAILED');
    const task = await app.store.getTask(r.id);
    expect(task?.error).toMatchObject({ code: 'TOOL_ERROR', details: { step_id: 'bad' } });
    expect(r.events.some((e) => e.type === 'step_retrying')).toBe(false);
    expectGapFreeLog(r.events);
    expectOneEndingPerStep(r.events, ['ok', 'bad', 'after', 'w']);
    // "ok" may have finished or been stopped, but never lost: if it completed, its output stays.
    if (steps.ok?.status === 'completed') expect(steps.ok.output?.text).toBe('done ok');
  });

  it('stops a step at max_iterations with MAX_ITERATIONS_EXCEEDED', async () => {
    plans.set('endless', [step('a')]);
    scripts.set('endless', () => ({ type: 'tool_calls', calls: [{ tool: 'sleep', args: { ms: 0 } }] }));
    const r = await run('endless', { max_iterations: 4 });
    expect(r.status).toBe('failed');
    expect((await app.store.getTask(r.id))?.error?.code).toBe('MAX_ITERATIONS_EXCEEDED');
    expect(await app.store.listTurns(r.id, 'a')).toHaveLength(4);
  });

  it('fails a plan with a cycle or an unknown agent with PLAN_INVALID', async () => {
    plans.set('cycle', [step('a', ['b']), step('b', ['a'])]);
    const r = await run('cycle');
    expect(r.status).toBe('failed');
    const task = await app.store.getTask(r.id);
    expect(task?.error?.code).toBe('PLAN_INVALID');
    expect(task?.error?.message).toContain('cycle');
    plans.set('agent', [{ ...step('a'), agent: 'wizard' }]);
    expect((await app.store.getTask((await run('agent')).id))?.error?.message).toContain('unknown agent "wizard"');
  });

  it('refuses a plan larger than the task\'s max_steps', async () => {
    plans.set('big', [step('a'), step('b'), step('c'), step('d')]);
    const r = await run('big', { max_steps: 2 });
    expect(r.status).toBe('failed');
    const task = await app.store.getTask(r.id);
    expect(task?.error?.code).toBe('PLAN_INVALID');
    expect(task?.error?.message).toContain('the limit is 2');
    expect(await app.store.listSteps(r.id)).toEqual([]);
  });

  it('cancels promptly: the abort reaches the running tool and the task ends cancelled', async () => {
    plans.set('cancel', [step('a'), step('b', ['a'])]);
    scripts.set('cancel', (req) => (req.turn === 0 ? { type: 'tool_calls', calls: [{ tool: 'sleep', args: { ms: 60_000 } }] } : final('never')));
    const { task } = await app.engine.submit({ tenantId: 'default', input: 'cancel', files: [], options: { scenario: 'cancel' }, start: true });
    await until(async () => (await app.store.listToolCalls(task.id)).length > 0);
    const before = sleepLog.aborted;
    const started = Date.now();
    await app.engine.cancel(task.id, 'user changed their mind');
    expect(await waitForTask(app, task.id)).toBe('cancelled');
    await until(async () => sleepLog.aborted > before);
    expect(Date.now() - started).toBeLessThan(10_000);
    const events = await app.store.listEvents(task.id, 0, 1000);
    expectGapFreeLog(events);
    expectOneEndingPerStep(events, ['a', 'b']);
    expect(events.at(-1)?.data).toMatchObject({ reason: 'user changed their mind' });
    await expect(app.engine.cancel(task.id)).rejects.toMatchObject({ code: 'TASK_NOT_CANCELLABLE' });
  });

  it('fails a task that outlives its deadline with DEADLINE_EXCEEDED', async () => {
    plans.set('slow', [step('a')]);
    scripts.set('slow', (req) => (req.turn === 0 ? { type: 'tool_calls', calls: [{ tool: 'sleep', args: { ms: 60_000 } }] } : final('late')));
    const r = await run('slow', { timeout_ms: 300 });
    expect(r.status).toBe('failed');
    expect((await app.store.getTask(r.id))?.error?.code).toBe('DEADLINE_EXCEEDED');
    expectGapFreeLog(r.events);
  });

  it('does not repeat a side-effecting call that finished; records it once in the ledger', async () => {
    plans.set('sink', [step('a')]);
    scripts.set('sink', (req) => (req.turn === 0 ? { type: 'tool_calls', calls: [{ tool: 'sink', args: { value: 'x' } }] } : final('stored')));
    const r = await run('sink');
    expect(r.status).toBe('completed');
    const key = `${r.id}:a:0:0`;
    expect(sinkCalls.get(key)).toBe(1);
    expect((await app.store.getToolCall(key))?.effect).toBe('side_effect');
  });
});

