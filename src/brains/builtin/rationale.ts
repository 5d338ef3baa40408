/** The one- or two-sentence rationale of a built-in plan: which rule fired and why. */
import type { TaskAnalysis } from './intent.js';
import type { Available, StepDraft } from './step-drafts.js';

function has(drafts: readonly StepDraft[], kind: string): boolean {
  return drafts.some((d) => d.params.kind === kind);
}

function csvReason(a: TaskAnalysis, drafts: readonly StepDraft[]): string {
  const names = a.csvFiles.map((f) => f.name).join(', ');
  const grouping = a.groupHint ? `, then groups by the column matching "${a.groupHint}"` : '';
  const sql = has(drafts, 'sql')
    ? `, another analyst queries ${a.csvFiles.length === 1 ? 'it' : 'each'} with sql_query (row count, sums and averages of the numeric columns${a.groupHint ? ', per group' : ''})`
    : '';
  return `CSV rule: ${names} ${a.csvFiles.length === 1 ? 'is' : 'are'} attached, so an analyst profiles ${a.csvFiles.length === 1 ? 'it' : 'each'} with data_profile${grouping}${sql} and the writer reports the figures.`;
}

/** What happens to the email the task asks for, as one sentence, or ''. */
function emailNote(a: TaskAnalysis, drafts: readonly StepDraft[]): string {
  if (!a.email) return '';
  const to = [...a.email.to, ...a.email.cc].join(', ');
  if (has(drafts, 'email')) {
    return ` Email: the task asks for the result to be sent to ${to}, so a last step sends the writer's report with send_email (the engine may hold the call for approval) and reports whether it went out.`;
  }
  const unsent = drafts.map((d) => d.params.unsent_email).find((u) => u !== undefined);
  const why = unsent?.reason === 'no_step' ? 'the step budget leaves no step to send it' : '`send_email` is not available (SMTP_URL is not set)';
  return ` Email: the task asks for the result to be sent to ${to}, but ${why}, so nothing is sent and the report says so.`;
}

function compareReason(a: TaskAnalysis, drafts: readonly StepDraft[]): string {
  const [x, y] = a.comparison?.subjects ?? ['', ''];
  const aspect = a.comparison?.aspect ? ` for ${a.comparison.aspect}` : '';
  const analyst = has(drafts, 'compare') ? ', an analyst sets the findings side by side' : '';
  const parallel = drafts.filter((d) => d.params.kind === 'search').length > 1 ? 'two researchers search for each in parallel' : 'a researcher searches for both';
  return `Compare rule: the task compares "${x}" and "${y}"${aspect}, so ${parallel}${analyst} and the writer builds a side-by-side table.`;
}

function primaryReason(a: TaskAnalysis, drafts: readonly StepDraft[]): string {
  const topic = a.topic ? `"${a.topic}"` : 'the task (it names no topic, so its own words are searched)';
  switch (a.primary) {
    case 'csv':
      return csvReason(a, drafts);
    case 'compare':
      return compareReason(a, drafts);
    case 'summary':
      return `Summary rule: the task asks for a summary of ${topic}, so a researcher gathers up to 10 passages and the writer condenses them into an extractive summary.`;
    case 'research': {
      const analyst = has(drafts, 'key_points') ? ', an analyst extracts and ranks the key points' : '';
      return `Research rule: the task asks what the documents say about ${topic}, so a researcher searches for it${analyst} and the writer reports them.`;
    }
    case 'compute':
      return `Compute rule: the task asks for a quantity, so an analyst evaluates ${a.computations.map((c) => `\`${c.expression}\``).join(', ')} with the calculator and the writer states the result.`;
    case 'fallback':
      return `Fallback rule: no specific rule matched, so a researcher searches the documents for ${topic} and the writer reports what it finds.`;
  }
}

/** Notes on what was added to or left out of the main rule's steps, as one sentence, or ''. */
function extrasNote(a: TaskAnalysis, drafts: readonly StepDraft[], available: Available): string {
  const notes: string[] = [];
  if (a.primary !== 'compute' && has(drafts, 'compute')) notes.push('it also asks for a computation, so an analyst evaluates it with the calculator in parallel');
  if (a.primary !== 'compute' && a.computations.length > 0 && !has(drafts, 'compute')) notes.push('its computation was left out to fit the step budget');
  if (a.primary === 'csv' && drafts.some((d) => d.key === 'search')) notes.push('it also asks about the documents, so a researcher searches them');
  if (a.missingFiles.length > 0) notes.push(`the task mentions ${a.missingFiles.join(', ')}, but no such file is attached, so it cannot be profiled`);
  const planned = new Set(drafts.flatMap((d) => d.params.calls?.map((c) => c.tool) ?? []));
  const wanted = ['knowledge_search', 'data_profile', 'calculator'].filter((t) => !available.has(t) && !planned.has(t));
  const needed = wanted.filter((t) => neededBy(a, t));
  if (needed.length > 0) notes.push(`${needed.map((t) => `\`${t}\``).join(', ')} ${needed.length === 1 ? 'is' : 'are'} not available, so the affected steps report that instead`);
  if (notes.length === 0) return '';
  const sentence = notes.join('; ');
  return ` ${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}.`;
}

function neededBy(a: TaskAnalysis, tool: string): boolean {
  if (tool === 'data_profile') return a.primary === 'csv';
  if (tool === 'calculator') return a.computations.length > 0;
  return a.primary !== 'csv' && a.primary !== 'compute';
}

/** Says which rule fired and why, plus any mixed-in step, missing tool or email. */
export function rationaleFor(a: TaskAnalysis, drafts: readonly StepDraft[], available: Available): string {
  return `${primaryReason(a, drafts)}${extrasNote(a, drafts, available)}${emailNote(a, drafts)}`;
}
