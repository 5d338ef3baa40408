import { describe, expect, it } from 'vitest';
import type { Decision, Observation, PlanProposal, TurnRecord } from '../types.js';
import { SALES_FILE, runFakeCall } from './__fixtures__/fake-tools.js';
import { decideRequest, planRequest, recordingContext, task } from './__fixtures__/harness.js';
import { decideStep, streamChunks } from './decide.js';
import { BUILTIN_NOTICE } from './notice.js';
import { buildPlan } from './planner.js';

function planFor(input: string, files = [] as (typeof SALES_FILE)[]): PlanProposal {
  return buildPlan(planRequest(input, { files }));
}

/** Records a turn: the decision and what the fake tools (or the given observations) returned. */
function turn(n: number, decision: Decision, observations?: Observation[]): TurnRecord {
  if (decision.type !== 'tool_calls') throw new Error('expected tool calls');
  return { turn: n, decision, observations: observations ?? decision.calls.map((c, i) => runFakeCall(c, `c${n}-${i}`)) };
}

function finalText(decision: Decision): string {
  if (decision.type !== 'final') throw new Error(`expected a final decision, got ${JSON.stringify(decision)}`);
  return decision.output.text;
}

describe('search step', () => {
  const input = 'What do our documents say about vacation policy?';
  const plan = planFor(input);

  it('makes the planned calls at turn 0, then reports passages with document ids', () => {
    const first = decideStep(decideRequest(plan, 's1', task(input)), recordingContext());
    expect(first).toEqual({ type: 'tool_calls', thought: expect.any(String), calls: [{ tool: 'knowledge_search', args: { query: 'vacation policy', limit: 8 } }] });
    const second = decideStep(decideRequest(plan, 's1', task(input), { history: [turn(0, first)] }), recordingContext());
    expect(finalText(second)).toContain('Found 2 passages in 2 documents.');
    expect(finalText(second)).toContain('**Employee Handbook** (`doc-handbook`, chunk 0');
    expect(second.type === 'final' && second.output.sources).toEqual([
      { kind: 'document', id: 'doc-handbook', title: 'Employee Handbook' },
      { kind: 'document', id: 'doc-faq', title: 'HR FAQ' },
    ]);
  });

  it('retries once with a broader query when nothing matched', () => {
    const p = planFor('Research vacation rollover');
    const first = decideStep(decideRequest(p, 's1', task('Research vacation rollover')), recordingContext());
    const history = [turn(0, first)];
    const retry = decideStep(decideRequest(p, 's1', task('x'), { history }), recordingContext());
    expect(retry.type === 'tool_calls' && retry.calls).toEqual([{ tool: 'knowledge_search', args: { query: 'vacation', limit: 8 } }]);
    history.push(turn(1, retry));
    const text = finalText(decideStep(decideRequest(p, 's1', task('x'), { history }), recordingContext()));
    expect(text).toContain('Nothing matched "vacation rollover", so the broader "vacation" was searched too.');
  });

  it('reports a failed search instead of hiding it', () => {
    const first = decideStep(decideRequest(plan, 's1', task(input)), recordingContext());
    const failed: Observation[] = [
      { call_id: 'c0', tool: 'knowledge_search', args: { query: 'vacation policy', limit: 8 }, ok: false, error: { code: 'TOOL_TIMEOUT', message: 'knowledge_search did not finish within 10000 ms' } },
    ];
    const decision = decideStep(decideRequest(plan, 's1', task(input), { history: [turn(0, first, failed)] }), recordingContext());
    expect(finalText(decision)).toContain('`knowledge_search` failed (TOOL_TIMEOUT): knowledge_search did not finish within 10000 ms');
    expect(decision.type === 'final' && decision.output.data).toMatchObject({ kind: 'search', failures: [expect.stringContaining('TOOL_TIMEOUT')] });
  });
});

describe('CSV step', () => {
  const input = 'Analyze sales.csv by region';
  const plan = planFor(input, [SALES_FILE]);
  const brief = task(input, [SALES_FILE]);

  it('profiles, groups by the matching column, derives a share, then reports real figures', () => {
    const history: TurnRecord[] = [];
    const profile = decideStep(decideRequest(plan, 's1', brief), recordingContext());
    history.push(turn(0, profile));
    const group = decideStep(decideRequest(plan, 's1', brief, { history }), recordingContext());
    expect(group.type === 'tool_calls' && group.calls).toEqual([
      {
        tool: 'data_profile',
        args: {
          file_id: 'file-sales',
          group_by: 'region',
          aggregates: [
            { column: 'units', op: 'sum' },
            { column: 'units', op: 'mean' },
            { column: 'revenue', op: 'sum' },
            { column: 'revenue', op: 'mean' },
          ],
          top: 10,
        },
      },
    ]);
    history.push(turn(1, group));
    const derive = decideStep(decideRequest(plan, 's1', brief, { history }), recordingContext());
    expect(derive.type === 'tool_calls' && derive.calls).toEqual([
      { tool: 'calculator', args: { expression: 'part / total * 100', variables: { part: 2460, total: 4230 } } },
    ]);
    history.push(turn(2, derive));
    const done = decideStep(decideRequest(plan, 's1', brief, { history }), recordingContext());
    const text = finalText(done);
    expect(text).toContain('6 rows and 5 columns');
    expect(text).toContain('| North | 3 | 15 | 5 | 2,460 | 820 |');
    expect(text).toContain("North's share of total revenue in sales.csv = **58.16%**");
    expect(done.type === 'final' && done.output.sources[0]).toEqual({ kind: 'file', id: 'file-sales', title: 'sales.csv' });
  });

  it('says so when no column matches the "by" hint', () => {
    const p = planFor('Analyze sales.csv per month', [SALES_FILE]);
    const b = task('Analyze sales.csv per month', [SALES_FILE]);
    const first = decideStep(decideRequest(p, 's1', b), recordingContext());
    const text = finalText(decideStep(decideRequest(p, 's1', b, { history: [turn(0, first)] }), recordingContext()));
    expect(text).toContain('No column of sales.csv matches "month", so it was not grouped; its columns are order_id, region, product, units, revenue.');
  });

  it('finalizes instead of grouping when no turn is left', () => {
    const first = decideStep(decideRequest(plan, 's1', brief, { maxIterations: 2 }), recordingContext());
    const decision = decideStep(decideRequest(plan, 's1', brief, { history: [turn(0, first)], maxIterations: 2 }), recordingContext());
    expect(finalText(decision)).toContain('sales.csv was not grouped by "region": no tool turn was left for it.');
  });
});

describe('compute step', () => {
  const input = 'What is 15% of 2400 plus 12?';
  const plan = planFor(input);

  it('states the result with its expression', () => {
    const first = decideStep(decideRequest(plan, 's1', task(input)), recordingContext());
    const decision = decideStep(decideRequest(plan, 's1', task(input), { history: [turn(0, first)] }), recordingContext());
    expect(finalText(decision)).toContain('- What is 15% of 2400 plus 12: `15 / 100 * 2400 + 12` = **372**');
    expect(decision.type === 'final' && decision.output.sources).toEqual([
      { kind: 'tool', id: 'calculator:15 / 100 * 2400 + 12', title: 'calculator: 15 / 100 * 2400 + 12 = 372' },
    ]);
  });

  it('reports a calculator error', () => {
    const first = decideStep(decideRequest(plan, 's1', task(input)), recordingContext());
    const failed: Observation[] = [
      { call_id: 'c', tool: 'calculator', args: { expression: '15 / 100 * 2400 + 12' }, ok: false, error: { code: 'TOOL_ERROR', message: 'Unknown function' } },
    ];
    const text = finalText(decideStep(decideRequest(plan, 's1', task(input), { history: [turn(0, first, failed)] }), recordingContext()));
    expect(text).toContain('no result');
    expect(text).toContain('`calculator` failed (TOOL_ERROR): Unknown function');
  });

  it('says when the calculator is not offered to the step', () => {
    const text = finalText(decideStep(decideRequest(plan, 's1', task(input), { tools: [] }), recordingContext()));
    expect(text).toContain('`calculator` could not be called in this step');
  });
});

describe('writer step', () => {
  const input = 'What is 15% of 2400 plus 12?';
  const plan = planFor(input);
  const dependencies = [
    {
      step_id: 's1',
      agent: 'analyst',
      title: 'Compute 15 / 100 * 2400 + 12',
      output: {
        text: '### Calculations\n\n- x',
        sources: [{ kind: 'tool' as const, id: 'calculator:15 / 100 * 2400 + 12', title: 'calculator: 15 / 100 * 2400 + 12 = 372' }],
        data: { kind: 'compute', results: [{ expression: '15 / 100 * 2400 + 12', wording: input, result: 372 }], failures: [] },
      },
    },
  ];

  it('finalizes at turn 0 with the notice near the top, the answer first and the sources', () => {
    const ctx = recordingContext();
    const decision = decideStep(decideRequest(plan, 's2', task(input), { dependencies }), ctx);
    const text = finalText(decision);
    expect(text.startsWith('# What is 15% of 2400 plus 12\n\n')).toBe(true);
    expect(text.indexOf(BUILTIN_NOTICE)).toBeGreaterThan(0);
    expect(text.indexOf(BUILTIN_NOTICE)).toBeLessThan(text.indexOf('## Answer'));
    expect(text).toContain('`15 / 100 * 2400 + 12` = **372**');
    expect(text).toMatch(/## Sources\n\n- Tool: calculator: 15 \/ 100 \* 2400 \+ 12 = 372\n$/);
    expect(ctx.partials.length).toBeGreaterThan(1);
    expect(ctx.partials.join('')).toBe(text);
  });

  it('writes from outputs of steps another brain made, without findings', () => {
    const plain = [{ step_id: 's1', agent: 'researcher', title: 'Look around', output: { text: 'Found a thing.', sources: [] } }];
    const text = finalText(decideStep(decideRequest(plan, 's2', task(input), { dependencies: plain }), recordingContext()));
    expect(text).toContain('## Look around\n\nFound a thing.');
    expect(text).toContain('No documents, files or tools were used.');
  });
});

describe('robustness', () => {
  it('throws when the signal is aborted', () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    const plan = planFor('Research X');
    expect(() => decideStep(decideRequest(plan, 's1', task('Research X')), recordingContext(controller.signal))).toThrow('cancelled');
  });

  it('infers what to do for steps without built-in params', () => {
    const plan = planFor('Research the travel policy');
    const foreign: PlanProposal = { ...plan, steps: plan.steps.map((s) => ({ ...s, params: undefined })) };
    const search = decideStep(decideRequest(foreign, 's1', task('Research the travel policy')), recordingContext());
    expect(search.type).toBe('tool_calls');
    const report = decideStep(decideRequest(foreign, 's3', task('Research the travel policy')), recordingContext());
    expect(finalText(report)).toContain(BUILTIN_NOTICE);
  });

  it('splits text for streaming without losing characters', () => {
    const text = '# T\n\nintro\n\n## A\n\nbody\n\n### B\n\nmore\n';
    expect(streamChunks(text)).toEqual(['# T\n\nintro', '\n\n## A\n\nbody', '\n\n### B\n\nmore\n']);
  });
});
