/**
 * Step drafts: one builder per kind of step the built-in planner uses. A draft names a role rather
 * than an agent and refers to other drafts by key; the planner later fits the drafts to the step
 * budget, picks agents and numbers them s1, s2, …
 */
import type { ToolCallRequest } from '../types.js';
import type { Computation } from './expression.js';
import type { Comparison } from './intent.js';
import type { ReportStyle, SearchQuery, StepParams } from './params.js';
import { SCHEMA_QUERY } from './sql-build.js';
import { countOf } from './text.js';

/** The roles the built-in rules assign; each maps to a preferred agent of the same name. */
export type Role = 'researcher' | 'analyst' | 'writer';

/** A step before it has an id and an agent. */
export interface StepDraft {
  key: string;
  role: Role;
  title: string;
  instruction: string;
  tools: string[];
  params: StepParams;
  /** Keys of the drafts this one reads. */
  needs: string[];
  /** When the plan must shrink, optional steps go, lowest number first; required steps have none. */
  dropOrder?: number;
  success: string[];
}

/** Tools present in the registry, by name. */
export type Available = ReadonlySet<string>;

function callsIf(available: Available, tool: string, argsList: unknown[]): ToolCallRequest[] {
  return available.has(tool) ? argsList.map((args) => ({ tool, args })) : [];
}

function quotedList(items: readonly string[]): string {
  return items.map((item) => `"${item}"`).join(' and ');
}

/** A researcher searching the document index, one call per query. */
export function searchDraft(key: string, queries: SearchQuery[], limit: number, available: Available): StepDraft {
  const calls = callsIf(available, 'knowledge_search', queries.map((q) => ({ query: q.query, limit })));
  const what = quotedList(queries.map((q) => q.query));
  return {
    key,
    role: 'researcher',
    title: `Search the documents for ${what}`,
    instruction: `Search the document index for ${what} (up to ${limit} passages each) and report the passages found, quoting them briefly with their document ids.`,
    tools: calls.length > 0 ? ['knowledge_search'] : [],
    params: { kind: 'search', queries, limit, calls },
    needs: [],
    success: ['Every passage reported carries its document id and title.'],
  };
}

/** An analyst extracting and ranking key points from earlier searches, searching again for listed sub-aspects. */
export function keyPointsDraft(topic: string, aspects: string[], needs: string[], available: Available): StepDraft {
  const calls = callsIf(available, 'knowledge_search', aspects.map((query) => ({ query, limit: 3 })));
  const about = topic || 'the task';
  return {
    key: 'key_points',
    role: 'analyst',
    title: `Extract key points about ${about}`,
    instruction:
      calls.length > 0
        ? `Search again for each sub-aspect (${aspects.join(', ')}), then extract the key points about ${about} and rank the documents by how much they say.`
        : `Extract the key points about ${about} from the passages found and rank the documents by how much they say.`,
    tools: calls.length > 0 ? ['knowledge_search'] : [],
    params: { kind: 'key_points', topic, aspects, calls },
    needs,
    dropOrder: 1,
    success: ['Each key point quotes a passage and names its document.'],
  };
}

/** An analyst profiling CSV files, then grouping by the hinted column and deriving a share with the calculator. */
export function profileDraft(
  files: Array<{ id: string; name: string }>,
  groupHint: string | null,
  available: Available,
): StepDraft {
  const calls = callsIf(available, 'data_profile', files.map((f) => ({ file_id: f.id, top: 5, sample_rows: 3 })));
  const names = files.map((f) => f.name).join(', ');
  const grouping = groupHint ? ` and group by the column that best matches "${groupHint}"` : '';
  const tools = calls.length > 0 ? ['data_profile', ...(groupHint && available.has('calculator') ? ['calculator'] : [])] : [];
  return {
    key: 'profile',
    role: 'analyst',
    title: `Profile ${names}${groupHint ? ` by ${groupHint}` : ''}`,
    instruction: `Profile ${names} with data_profile (rows, column types, ranges, totals)${grouping}; report the figures with the columns they came from.`,
    tools,
    params: { kind: 'profile', files, group_hint: groupHint, calls },
    needs: [],
    success: ['Row counts and column statistics come from data_profile, not estimates.'],
  };
}

/**
 * An analyst querying CSV files with sql_query: first each file's columns, then its row count, sums
 * and averages of the numeric columns and, with a group hint, the same per group. Optional: it
 * checks and extends the profile, so it is the first to go when the plan must shrink.
 */
export function sqlDraft(files: Array<{ id: string; name: string }>, groupHint: string | null, available: Available): StepDraft {
  const calls = callsIf(available, 'sql_query', files.map((f) => ({ query: SCHEMA_QUERY, files: [f.id], max_rows: 1000 })));
  const names = files.map((f) => f.name).join(', ');
  const grouping = groupHint ? `, and the same grouped by the column that best matches "${groupHint}"` : '';
  return {
    key: 'sql',
    role: 'analyst',
    title: `Query ${names} with SQL`,
    instruction: `Query ${names} with sql_query: read the columns, then count the rows and sum and average the numeric columns${grouping}; report the figures with the queries that produced them.`,
    tools: calls.length > 0 ? ['sql_query'] : [],
    params: { kind: 'sql', files, group_hint: groupHint, calls },
    needs: [],
    dropOrder: 1,
    success: ['Every figure comes from a sql_query result, shown with its query.'],
  };
}

/** A writer sending the final report by email once it is written; `needs` is set when the plan is fitted. */
export function emailDraft(to: string[], cc: string[], subject: string): StepDraft {
  const recipients = [...to, ...cc].join(', ');
  return {
    key: 'email',
    role: 'writer',
    title: `Email the report to ${recipients}`,
    instruction: `Send the final report to ${recipients} with send_email (subject "${subject}"), once; then give the report with a line saying to whom it was sent and the message id, or that it was not sent and why.`,
    tools: ['send_email'],
    params: { kind: 'email', to, cc, subject },
    needs: [],
    success: ['Says whether the email was sent, to whom, with the message id, or why it was not.'],
  };
}

/** An analyst evaluating the task's quantities with the calculator, all in one turn. */
export function computeDraft(computations: Computation[], available: Available, optional: boolean): StepDraft {
  const calls = callsIf(available, 'calculator', computations.map((c) => ({ expression: c.expression })));
  const expressions = computations.map((c) => `\`${c.expression}\``).join(', ');
  return {
    key: 'compute',
    role: 'analyst',
    title: `Compute ${computations.map((c) => c.expression).join('; ')}`,
    instruction: `Evaluate ${expressions} with the calculator and report each result with the expression used.`,
    tools: calls.length > 0 ? ['calculator'] : [],
    params: { kind: 'compute', computations, calls },
    needs: [],
    ...(optional ? { dropOrder: 2 } : {}),
    success: [`${countOf(computations.length, 'result')} from the calculator, each with its expression.`],
  };
}

/** An analyst setting two subjects' search results side by side. */
export function compareDraft(comparison: Comparison, needs: string[]): StepDraft {
  const [a, b] = comparison.subjects;
  return {
    key: 'compare',
    role: 'analyst',
    title: `Compare ${a} and ${b}`,
    instruction: `Set what the documents say about ${a} and ${b}${comparison.aspect ? ` for ${comparison.aspect}` : ''} side by side: passages and documents found for each, shared and distinctive terms.`,
    tools: [],
    params: { kind: 'compare', subjects: [a, b], aspect: comparison.aspect },
    needs,
    dropOrder: 1,
    success: ['Both subjects are covered with the same measures.'],
  };
}

const WRITER_TITLES: Record<ReportStyle, string> = {
  report: 'Write the report',
  summary: 'Write the summary',
  comparison: 'Write the comparison',
};

/** The writer, reading every other step. */
export function writerDraft(style: ReportStyle, needs: string[]): StepDraft {
  return {
    key: 'writer',
    role: 'writer',
    title: WRITER_TITLES[style],
    instruction:
      style === 'summary'
        ? 'Write a concise extractive summary (the most representative sentences as bullet points) with the documents cited.'
        : 'Write the final markdown report from the earlier steps: the answer first, then what each step found, then the sources.',
    tools: [],
    params: { kind: 'report', style },
    needs,
    success: ['Every document and file used is listed under Sources.'],
  };
}
