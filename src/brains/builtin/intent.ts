/**
 * Reads a task: which rules it triggers (research, CSV analysis, computation, comparison, summary)
 * and the details those rules need (topic, files, expressions, subjects, group-by hint), and whether
 * it asks for the result to be emailed. The email request is taken out of the text first, so
 * "… and email the summary to ops@example.com" is not read as a request for a summary of "ops";
 * then clauses that hold a computation are set aside before the other rules look, so "What is 15%
 * of 2400?" is not mistaken for a question about documents.
 */
import type { StoredFile } from '../../tools/types.js';
import type { TaskBrief } from '../types.js';
import { findEmailRequest, withoutEmailRequest } from './email-request.js';
import { findComputations, type Computation } from './expression.js';
import { isStopWord, splitClauses, topicOf, wordsOf } from './text.js';

/** The rule that shapes the plan. */
export type RuleKind = 'research' | 'csv' | 'compute' | 'compare' | 'summary' | 'fallback';

/** Two subjects to set side by side, and what to compare them on ("caching"), possibly empty. */
export interface Comparison {
  subjects: [string, string];
  aspect: string;
}

/** Everything the planner needs to know about a task. */
export interface TaskAnalysis {
  primary: RuleKind;
  /** The subject of the non-computational part of the task; may be empty. */
  topic: string;
  csvFiles: StoredFile[];
  computations: Computation[];
  comparison: Comparison | null;
  summary: boolean;
  /** The task asks about documents in so many words ("research", "what do our documents say"). */
  explicitResearch: boolean;
  /** The task asks about a topic, explicitly or as a question. */
  research: boolean;
  /** Sub-aspects listed in the task ("pricing, support and security"), each a search query; often empty. */
  aspects: string[];
  /** The word(s) after "by", "per" or "group by", to be matched against CSV columns. */
  groupHint: string | null;
  /** CSV names the task mentions that are not attached, so the plan can say why it cannot profile them. */
  missingFiles: string[];
  /** Who the task asks the result to be emailed to, or null when it does not ask. */
  email: { to: string[]; cc: string[] } | null;
  /** The task's words without the email request: what the other rules read. */
  text: string;
}

const CSV_TYPES = new Set(['text/csv', 'application/csv', 'text/tab-separated-values', 'text/x-csv']);
const SUMMARY_CUE = /\b(?:summari[sz]e|summari[sz]ed|summary|summaries|summarization|overview|recap|tl;?dr|digest|gist)\b/i;
const RESEARCH_CUE =
  /\b(?:research|investigate|look\s+(?:up|into)|find\s+out|find|search|tell\s+me\s+about|explain|describe|learn\s+about|according\s+to|(?:documents?|docs|files?|handbook|policy|policies)\s+(?:say|says|state|cover)|what\s+(?:do|does)\b.*\bsay)\b/i;
const QUESTION_START = /^(?:who|what|when|where|why|how|which|is|are|does|do|can|should)\b/i;
const ASPECT = String.raw`(?:\s+(?:for|in\s+terms\s+of|when\s+it\s+comes\s+to|regarding|with\s+respect\s+to|as)\s+(?<aspect>.+?))?`;
/** Ways of asking for a comparison; each names its subjects `a` and `b` and, optionally, an `aspect`. */
const COMPARE_PATTERNS = [
  new RegExp(String.raw`\bcompare\s+(?<a>.+?)\s+(?:and|with|to|against|vs\.?|versus)\s+(?<b>.+?)${ASPECT}$`, 'i'),
  new RegExp(String.raw`\b(?:differences?|comparison)\s+(?:between|of)\s+(?<a>.+?)\s+(?:and|with|vs\.?|versus)\s+(?<b>.+?)${ASPECT}$`, 'i'),
  new RegExp(String.raw`^(?<a>.+?)\s+(?:vs\.?|versus)\s+(?<b>.+?)${ASPECT}$`, 'i'),
  new RegExp(String.raw`^should\s+(?:we|i)\s+(?:use|choose|pick|go\s+with)\s+(?<a>.+?)\s+or\s+(?<b>.+?)${ASPECT}$`, 'i'),
  new RegExp(String.raw`^which\b(?:.*?\bfor\s+(?<aspect>[^:,]+))?[^:,]*[:,]\s*(?<a>.+?)\s+or\s+(?<b>.+?)$`, 'i'),
];
const GROUP_CUE =
  /\b(?:group(?:ed)?\s+by|broken\s+down\s+by|break\s*down\s+by|split\s+by|for\s+each|per|across|(?<!(?:divided|multiplied|increased|decreased|reduced|increase|decrease|reduce|made|written|owned|sent|run)\s)by)\s+(?:each\s+|every\s+|the\s+)?([^\s,.;:?!]+(?:\s+[^\s,.;:?!]+){0,2})/gi;

/** True for a CSV by content type or by file extension. */
export function isCsvFile(file: StoredFile): boolean {
  return CSV_TYPES.has(file.content_type.toLowerCase().split(';')[0]?.trim() ?? '') || /\.(?:csv|tsv)$/i.test(file.name);
}

/** CSV file names mentioned in the text but not among the attached files. */
export function findMissingFiles(text: string, files: readonly StoredFile[]): string[] {
  const attached = new Set(files.map((f) => f.name.toLowerCase()));
  const mentioned = text.match(/[\w.-]+\.(?:csv|tsv)\b/gi) ?? [];
  return [...new Set(mentioned)].filter((name) => !attached.has(name.toLowerCase()));
}

/** A subject as written, trimmed of lead-in words and trailing remarks ("Redis: which is faster" → "Redis"). */
function cleanSubject(raw: string): string {
  const head = raw.split(/[:,;(]/)[0]?.trim() ?? '';
  return topicOf(head) || head;
}

/** The comparison a clause asks for, if any. */
export function findComparison(clauses: readonly string[]): Comparison | null {
  for (const clause of clauses) {
    for (const pattern of COMPARE_PATTERNS) {
      const m = pattern.exec(clause.trim());
      if (!m) continue;
      const first = cleanSubject(m.groups?.['a'] ?? '');
      const second = cleanSubject(m.groups?.['b'] ?? '');
      if (first && second && first.toLowerCase() !== second.toLowerCase()) {
        return { subjects: [first, second], aspect: topicOf(m.groups?.['aspect'] ?? '') };
      }
    }
  }
  return null;
}

/** The words after the first "by"/"per"/"group by" that are not stop words, up to three; null if none. */
export function findGroupHint(text: string): string | null {
  for (const m of text.matchAll(GROUP_CUE)) {
    const words: string[] = [];
    for (const word of wordsOf(m[1] ?? '')) {
      if (isStopWord(word) || /^\d/.test(word)) break;
      words.push(word.toLowerCase());
    }
    if (words.length > 0) return words.join(' ');
  }
  return null;
}

/**
 * Sub-aspects a task lists: "Research the pricing, support and security of Acme" gives "pricing",
 * "support", "security Acme". Only lists of two to four parts count; anything else gives none.
 */
export function findAspects(clauses: readonly string[]): string[] {
  for (const clause of clauses) {
    const parts = clause.split(/\s*,\s*(?:and\s+)?|\s+and\s+/i).map(topicOf);
    if (parts.length >= 2 && parts.length <= 4 && parts.every((p) => p.length > 0)) return parts;
  }
  return [];
}

function pickPrimary(a: Omit<TaskAnalysis, 'primary'>): RuleKind {
  if (a.csvFiles.length > 0) return 'csv';
  if (a.comparison) return 'compare';
  if (a.summary) return 'summary';
  if (a.research) return 'research';
  if (a.computations.length > 0) return 'compute';
  return 'fallback';
}

/** Reads a task and decides which rule shapes its plan. */
export function analyseTask(task: TaskBrief): TaskAnalysis {
  const emailRequest = findEmailRequest(task.input);
  const text = withoutEmailRequest(task.input, emailRequest);
  const clauses = splitClauses(text);
  const computations = findComputations(clauses);
  const computing = new Set(computations.map((c) => c.wording));
  const rest = clauses.filter((c) => !computing.has(c.replace(/[\s?.!]+$/u, '')));
  const restText = rest.join('. ');
  const topic = topicOf(restText);
  const explicitResearch = RESEARCH_CUE.test(restText);
  const asked = rest.some((c) => QUESTION_START.test(c)) || /\?\s*$/.test(text);
  const fields = {
    topic,
    csvFiles: task.files.filter(isCsvFile),
    computations,
    comparison: findComparison(rest),
    summary: SUMMARY_CUE.test(restText),
    explicitResearch,
    research: topic.length > 0 && (explicitResearch || asked),
    aspects: findAspects(rest),
    groupHint: findGroupHint(restText),
    missingFiles: findMissingFiles(task.input, task.files),
    email: emailRequest ? { to: emailRequest.to, cc: emailRequest.cc } : null,
    text,
  };
  return { ...fields, primary: pickPrimary(fields) };
}
