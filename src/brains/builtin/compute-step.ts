/**
 * The analyst's compute step: the calculator evaluated the task's expressions at turn 0; this
 * reports each result next to its expression and wording, and each failure as it came.
 */
import type { Observation } from '../types.js';
import type { ComputeFinding } from './findings.js';
import type { ComputeParams } from './params.js';
import { argOf, CalcResultSchema, parseObservation } from './results.js';
import { toolSource } from './sources.js';
import { finalOutcome, joinBlocks, notRunNote, problemsSection, type StepInput, type StepOutcome } from './step-input.js';
import { countOf, formatNumber } from './text.js';

type ComputeResult = ComputeFinding['results'][number];

function observationFor(expression: string, observations: readonly Observation[]): Observation | undefined {
  return observations.find((o) => o.tool === 'calculator' && argOf(o.args, 'expression') === expression);
}

function resultLine(r: ComputeResult): string {
  const value = r.result === null ? 'no result' : `**${formatNumber(r.result)}**`;
  return `- ${r.wording}: \`${r.expression}\` = ${value}`;
}

/** One turn of the compute step: always final. */
export function computeStep(input: StepInput<ComputeParams>): StepOutcome {
  const failures: string[] = [];
  const results: ComputeResult[] = input.params.computations.map((c) => {
    const observation = observationFor(c.expression, input.observations);
    if (!observation) return { ...c, result: null };
    const parsed = parseObservation(CalcResultSchema, observation);
    if (parsed.ok) return { ...c, result: parsed.value.result };
    failures.push(`${parsed.failure} (expression \`${c.expression}\`)`);
    return { ...c, result: null };
  });
  const finding: ComputeFinding = { kind: 'compute', results, failures };
  const text = joinBlocks([
    notRunNote(input.notRun, 'nothing was calculated and no figure is given'),
    ['### Calculations', '', ...results.map(resultLine)].join('\n'),
    problemsSection(failures),
  ]);
  const sources = results
    .filter((r) => r.result !== null)
    .map((r) => toolSource('calculator', r.expression, `calculator: ${r.expression} = ${formatNumber(r.result ?? 0)}`));
  const done = results.filter((r) => r.result !== null).length;
  return finalOutcome(`Computed ${countOf(done, 'result')} of ${results.length}.`, text, sources, finding);
}
