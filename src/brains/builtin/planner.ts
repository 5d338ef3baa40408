/**
 * The built-in planner: picks a rule from the task (CSV analysis, comparison, summary, research,
 * computation, or the fallback), drafts the rule's steps, adds a parallel computation step when a
 * task mixes one in, adds a last step emailing the report when the task asks for it and send_email
 * exists, fits the plan into the step budget and assigns agents. Same task, same plan.
 */
import type { AgentDefinition } from '../../agents/index.js';
import { AppError } from '../../errors.js';
import type { PlanProposal, PlanRequest, PlannedStep } from '../types.js';
import { analyseTask, type TaskAnalysis } from './intent.js';
import type { ReportStyle, SearchQuery, UnsentEmail } from './params.js';
import {
  compareDraft,
  computeDraft,
  emailDraft,
  keyPointsDraft,
  profileDraft,
  searchDraft,
  sqlDraft,
  writerDraft,
  type Available,
  type Role,
  type StepDraft,
} from './step-drafts.js';
import { titleFromTask, wordsOf } from './text.js';
import { rationaleFor } from './rationale.js';

/** The most steps a built-in plan has, whatever the budget allows. */
export const MAX_BUILTIN_STEPS = 6;

/** The search query for a topic; a task that names no topic is searched with its own words. */
export function queryFor(topic: string, input: string): string {
  if (topic.length > 0) return topic;
  return wordsOf(input).join(' ').slice(0, 200) || 'overview';
}

function primaryDrafts(a: TaskAnalysis, input: string, available: Available): StepDraft[] {
  const query = queryFor(a.topic, input);
  switch (a.primary) {
    case 'csv':
      return csvDrafts(a, available);
    case 'compare':
      return compareDrafts(a, available);
    case 'summary':
      return [searchDraft('search', [{ query }], 10, available)];
    case 'research':
      return [searchDraft('search', [{ query }], 8, available), keyPointsDraft(a.topic, a.aspects, ['search'], available)];
    case 'compute':
      return [computeDraft(a.computations, available, false)];
    case 'fallback':
      return [searchDraft('search', [{ query }], 5, available)];
  }
}

/** True when the task asks for the result by email and send_email exists to send it. */
function sendsEmail(a: TaskAnalysis, available: Available): boolean {
  return a.email !== null && available.has('send_email');
}

/**
 * The profile, and, when the result is to be emailed and sql_query exists, an SQL analysis beside it
 * (the emailed summary then carries figures checked by a second tool). Otherwise the CSV rule stays
 * as it was.
 */
function csvDrafts(a: TaskAnalysis, available: Available): StepDraft[] {
  const files = a.csvFiles.map((f) => ({ id: f.id, name: f.name }));
  const profile = profileDraft(files, a.groupHint, available);
  return sendsEmail(a, available) && available.has('sql_query') ? [profile, sqlDraft(files, a.groupHint, available)] : [profile];
}

function compareDrafts(a: TaskAnalysis, available: Available): StepDraft[] {
  const comparison = a.comparison;
  if (!comparison) return [];
  const queries: SearchQuery[] = comparison.subjects.map((subject) => ({
    query: comparison.aspect ? `${subject} ${comparison.aspect}` : subject,
    subject,
  }));
  const searches = queries.map((q, i) => searchDraft(`search_${i + 1}`, [q], 6, available));
  return [...searches, compareDraft(comparison, searches.map((s) => s.key))];
}

/** Steps a task mixes into its main rule: a computation, or a document search next to a CSV analysis. */
function extraDrafts(a: TaskAnalysis, input: string, available: Available): StepDraft[] {
  const extras: StepDraft[] = [];
  if (a.computations.length > 0 && a.primary !== 'compute') extras.push(computeDraft(a.computations, available, true));
  if (a.primary === 'csv' && a.explicitResearch && a.topic) {
    extras.push({ ...searchDraft('search', [{ query: queryFor(a.topic, input) }], 5, available), dropOrder: 0 });
  }
  return extras;
}

function styleFor(a: TaskAnalysis): ReportStyle {
  if (a.primary === 'compare') return 'comparison';
  return a.primary === 'summary' ? 'summary' : 'report';
}

/** The email's subject: the CSV files' names, else the task's title. */
export function emailSubject(a: TaskAnalysis): string {
  const about = a.primary === 'csv' ? a.csvFiles.map((f) => f.name).join(', ') : titleFromTask(a.text);
  return `Summary: ${about}`;
}

/**
 * All drafts for a task, dependencies before dependants, the writer reading every working step,
 * then (when the task asks and send_email exists) the email step, which fitPlan links to the report.
 */
export function draftsFor(a: TaskAnalysis, input: string, available: Available): StepDraft[] {
  const work = [...primaryDrafts(a, input, available), ...extraDrafts(a, input, available)];
  const email = a.email && sendsEmail(a, available) ? [emailDraft(a.email.to, a.email.cc, emailSubject(a))] : [];
  return [...work, writerDraft(styleFor(a), work.map((d) => d.key)), ...email];
}

function withoutDraft(drafts: StepDraft[], key: string): StepDraft[] {
  return drafts.filter((d) => d.key !== key).map((d) => ({ ...d, needs: d.needs.filter((n) => n !== key) }));
}

/** Merges all search steps into the first, so a comparison still fits in two steps. */
function mergeSearches(drafts: StepDraft[], available: Available): StepDraft[] {
  const searches = drafts.filter((d) => d.params.kind === 'search');
  const first = searches[0];
  if (searches.length < 2 || !first) return drafts;
  const queries = searches.flatMap((d) => (d.params.kind === 'search' ? d.params.queries : []));
  const limit = first.params.kind === 'search' ? first.params.limit : 5;
  const merged = searchDraft(first.key, queries, limit, available);
  const gone = new Set(searches.slice(1).map((d) => d.key));
  return drafts
    .filter((d) => !gone.has(d.key))
    .map((d) => (d.key === first.key ? merged : { ...d, needs: [...new Set(d.needs.map((n) => (gone.has(n) ? first.key : n)))] }));
}

/** With a budget of one step, the first working step also writes the final report. */
function standaloneStep(drafts: StepDraft[]): StepDraft[] {
  const writer = drafts.find((d) => d.params.kind === 'report');
  const first = drafts.find((d) => d.params.kind !== 'report') ?? writer;
  if (!first) return [];
  const style = writer?.params.kind === 'report' ? writer.params.style : 'report';
  return [{ ...first, needs: [], params: { ...first.params, report_style: style } }];
}

/** Shrinks a plan to the budget: drop optional steps, then merge searches, then fold into one step. */
export function fitToBudget(drafts: StepDraft[], budget: number, available: Available): StepDraft[] {
  let fitted = drafts;
  for (;;) {
    if (fitted.length <= budget) return fitted;
    const optional = fitted.filter((d) => d.dropOrder !== undefined);
    const victim = optional.sort((x, y) => (x.dropOrder ?? 0) - (y.dropOrder ?? 0))[0];
    if (!victim) break;
    fitted = withoutDraft(fitted, victim.key);
  }
  fitted = mergeSearches(fitted, available);
  return fitted.length <= budget ? fitted : standaloneStep(fitted);
}

/** The step whose output is the report: the writer, or the one step that writes it under a budget of one. */
function reporterOf(drafts: readonly StepDraft[]): StepDraft | undefined {
  return drafts.find((d) => d.params.kind === 'report') ?? drafts.find((d) => d.params.report_style !== undefined) ?? drafts[drafts.length - 1];
}

function withUnsentEmail(drafts: StepDraft[], unsent: UnsentEmail): StepDraft[] {
  const reporter = reporterOf(drafts);
  return drafts.map((d) => (d === reporter ? { ...d, params: { ...d.params, unsent_email: unsent } } : d));
}

/**
 * Fits the plan into the budget with the email step kept last and reading the report: the other
 * steps share the budget less one. When the email cannot be sent (no send_email, or a budget of
 * one), the report says so instead.
 */
export function fitPlan(drafts: StepDraft[], budget: number, available: Available, a: TaskAnalysis): StepDraft[] {
  const email = drafts.find((d) => d.params.kind === 'email');
  const rest = drafts.filter((d) => d !== email);
  if (!a.email) return fitToBudget(rest, budget, available);
  if (!email) return withUnsentEmail(fitToBudget(rest, budget, available), { to: [...a.email.to, ...a.email.cc], reason: 'not_configured' });
  if (budget < 2) return withUnsentEmail(fitToBudget(rest, budget, available), { to: [...a.email.to, ...a.email.cc], reason: 'no_step' });
  const fitted = fitToBudget(rest, budget - 1, available);
  const reporter = reporterOf(fitted);
  return [...fitted, { ...email, needs: reporter ? [reporter.key] : [] }];
}

const AGENT_PREFERENCES: Record<Role, string[]> = {
  researcher: ['researcher', 'analyst', 'writer', 'manager', 'coder'],
  analyst: ['analyst', 'coder', 'researcher', 'manager', 'writer'],
  writer: ['writer', 'manager', 'analyst', 'researcher', 'coder'],
};

/** The agent for a role: the most preferred one allowed to use every tool the step needs, else the most preferred. */
export function chooseAgent(role: Role, tools: readonly string[], agents: readonly AgentDefinition[]): AgentDefinition {
  const rank = (a: AgentDefinition): number => {
    const i = AGENT_PREFERENCES[role].indexOf(a.name);
    return i < 0 ? AGENT_PREFERENCES[role].length : i;
  };
  const ranked = [...agents].sort((x, y) => rank(x) - rank(y));
  const chosen = ranked.find((a) => tools.every((t) => a.tools.includes(t))) ?? ranked[0];
  if (!chosen) throw new AppError('PLAN_INVALID', 'The built-in planner was given no agents to assign steps to');
  return chosen;
}

/** Gives drafts their ids (s1, s2, …) and agents, keeping only calls the agent may make. */
function toPlannedSteps(drafts: StepDraft[], agents: readonly AgentDefinition[]): PlannedStep[] {
  const ids = new Map(drafts.map((d, i) => [d.key, `s${i + 1}`]));
  return drafts.map((d, i) => {
    const agent = chooseAgent(d.role, d.tools, agents);
    const tools = d.tools.filter((t) => agent.tools.includes(t));
    const calls = d.params.calls?.filter((c) => tools.includes(c.tool));
    return {
      id: `s${i + 1}`,
      agent: agent.name,
      title: d.title,
      instruction: d.instruction,
      depends_on: d.needs.map((n) => ids.get(n)).filter((id): id is string => id !== undefined),
      tools,
      success_criteria: d.success,
      params: calls === undefined ? { ...d.params } : { ...d.params, calls },
    };
  });
}

/** Builds the plan for a task. Deterministic: the same request always gives the same plan. */
export function buildPlan(request: PlanRequest): PlanProposal {
  const analysis = analyseTask(request.task);
  const available: Available = new Set(request.tools.map((t) => t.name));
  const asked = Number.isFinite(request.maxSteps) ? Math.floor(request.maxSteps) : MAX_BUILTIN_STEPS;
  const budget = Math.max(1, Math.min(MAX_BUILTIN_STEPS, asked));
  const drafts = fitPlan(draftsFor(analysis, analysis.text, available), budget, available, analysis);
  return { rationale: rationaleFor(analysis, drafts, available), steps: toPlannedSteps(drafts, request.agents) };
}
