/**
 * The writer's report: a title from the task, the built-in notice, the answer first, a side-by-side
 * table for comparisons, a section per earlier step, every source used, once, and, when the task
 * asked for an email that cannot be sent, a closing line saying so.
 */
import type { DependencyOutput, Source, StepOutput, TaskBrief } from '../types.js';
import { answerFor, comparisonOf } from './answer.js';
import { sideBySideTable } from './comparison.js';
import { findEmailRequest, withoutEmailRequest } from './email-request.js';
import { unsentLine } from './email-step.js';
import { BUILTIN_NOTICE } from './notice.js';
import type { ReportStyle, UnsentEmail } from './params.js';
import { dedupeSources } from './sources.js';
import { titleFromTask } from './text.js';

function sourceLine(source: Source): string {
  switch (source.kind) {
    case 'document':
      return `- Document \`${source.id}\`: ${source.title}`;
    case 'file':
      return `- File \`${source.id}\`: ${source.title}`;
    case 'url':
      return `- Web page ${source.id}: ${source.title}`;
    case 'tool':
      return `- Tool: ${source.title}`;
  }
}

/** The Sources section body: documents, then files, then web pages, then tool computations. */
export function sourcesList(sources: readonly Source[]): string {
  const order: Source['kind'][] = ['document', 'file', 'url', 'tool'];
  const sorted = order.flatMap((kind) => sources.filter((s) => s.kind === kind));
  return sorted.length > 0 ? sorted.map(sourceLine).join('\n') : 'No documents, files or tools were used.';
}

function stepSection(dep: DependencyOutput): string {
  const text = dep.output.text.trim();
  return `## ${dep.title}\n\n${text.length > 0 ? text : '_This step produced no text._'}`;
}

function sideBySide(deps: readonly DependencyOutput[], style: ReportStyle): string {
  if (style !== 'comparison') return '';
  const comparison = comparisonOf(deps);
  return comparison ? `## Side by side\n\n${sideBySideTable(comparison)}` : '';
}

/**
 * Composes the final markdown report from the steps' outputs. Its sources are every source of every
 * step, deduplicated. When the task asked for an email that cannot be sent (`unsent`), an "Email"
 * section at the end says so and why, as the email step's section would have said it was sent.
 */
export function composeReport(task: TaskBrief, deps: readonly DependencyOutput[], style: ReportStyle, unsent?: UnsentEmail): StepOutput {
  const sources = dedupeSources(deps.flatMap((d) => d.output.sources));
  const sections = [
    // Without "… and email it to x": the report is what gets emailed, and its title names the work.
    `# ${titleFromTask(withoutEmailRequest(task.input, findEmailRequest(task.input)))}`,
    BUILTIN_NOTICE,
    `## Answer\n\n${answerFor(deps, style)}`,
    sideBySide(deps, style),
    ...deps.map(stepSection),
    `## Sources\n\n${sourcesList(sources)}`,
    unsent ? `## Email\n\n${unsentLine(unsent)}` : '',
  ];
  return { text: `${sections.filter((s) => s.length > 0).join('\n\n')}\n`, sources };
}
