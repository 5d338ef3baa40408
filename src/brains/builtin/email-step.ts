/**
 * The email step: sends the report of the step it depends on with send_email, once, then passes
 * the report on with an "Email" section saying to whom it went and the message id, or that it was
 * not sent and why (refused at approval, failed, not offered, nothing to send). Not sending is an
 * answer, not an error: the task still completes with its report.
 *
 * send_email changes the world, so the step never calls it twice: once a call is in the history,
 * whatever came back (or nothing) is reported as it is.
 */
import type { DependencyOutput, Observation, Source, ToolCallRequest } from '../types.js';
import type { EmailFinding } from './findings.js';
import type { EmailParams, UnsentEmail } from './params.js';
import { describeFailure, EmailResultSchema } from './results.js';
import { dedupeSources } from './sources.js';
import { callOutcome, finalOutcome, type StepInput, type StepOutcome } from './step-input.js';

/** The longest body send_email takes (SEND_EMAIL_LIMITS.maxTextLength); a longer report is cut, and says so. */
export const MAX_EMAIL_TEXT = 200_000;

/** The most characters of a subject (SEND_EMAIL_LIMITS.maxSubjectLength). */
export const MAX_SUBJECT = 300;

/** A subject line: one line, at most MAX_SUBJECT characters. */
export function subjectLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= MAX_SUBJECT ? flat : `${flat.slice(0, MAX_SUBJECT - 1).trimEnd()}…`;
}

function list(addresses: readonly string[]): string {
  if (addresses.length <= 1) return addresses.join('');
  return `${addresses.slice(0, -1).join(', ')} and ${addresses[addresses.length - 1]}`;
}

/** The report to send: the text of the steps this one depends on, and their sources. */
function reportOf(dependencies: readonly DependencyOutput[]): { text: string; sources: Source[] } {
  const texts = dependencies.map((d) => d.output.text.trim()).filter((t) => t.length > 0);
  return { text: texts.join('\n\n'), sources: dedupeSources(dependencies.flatMap((d) => d.output.sources)) };
}

function bodyOf(text: string): string {
  if (text.length <= MAX_EMAIL_TEXT) return text;
  const note = '\n\n[The report was cut here: it is longer than an email body may be.]';
  return `${text.slice(0, MAX_EMAIL_TEXT - note.length)}${note}`;
}

/** The send_email call for a report. */
export function emailCall(params: EmailParams, text: string): ToolCallRequest {
  const args = { to: params.to, ...(params.cc.length > 0 ? { cc: params.cc } : {}), subject: subjectLine(params.subject), text: bodyOf(text) };
  return { tool: 'send_email', args };
}

/** The sentence for an email the plan could not send at all; the writer puts it in the report. */
export function unsentLine(unsent: UnsentEmail): string {
  const why =
    unsent.reason === 'not_configured'
      ? 'email is not configured on this service (set SMTP_URL and AGENTIC_EMAIL_FROM to offer send_email)'
      : 'the step budget left no step to send it';
  return `Not sent: the task asks for this to be emailed to ${list(unsent.to)}, but ${why}.`;
}

/** The report followed by its "Email" section. */
export function withEmailSection(text: string, line: string): string {
  const body = text.trimEnd();
  return `${body.length > 0 ? `${body}\n\n` : ''}## Email\n\n${line}\n`;
}

interface Sending {
  params: EmailParams;
  text: string;
  sources: Source[];
}

function finish(s: Sending, line: string, finding: Omit<EmailFinding, 'kind' | 'to' | 'cc'>): StepOutcome {
  const data: EmailFinding = { kind: 'email', to: s.params.to, cc: s.params.cc, ...finding };
  return finalOutcome(line, withEmailSection(s.text, line), s.sources, data);
}

function notSent(s: Sending, why: string, failures: string[] = []): StepOutcome {
  const reason = why.replace(/[\s.]+$/u, '');
  return finish(s, `Not sent to ${list(s.params.to)}: ${reason}.`, { sent: false, rejected: [], reason, failures });
}

/** The final answer once send_email has answered (or its answer is missing). */
function afterSending(s: Sending, observation: Observation | undefined): StepOutcome {
  if (!observation) return notSent(s, 'the send_email call has no recorded result, so whether it went out is unknown; it is not sent again');
  if (!observation.ok && observation.error?.code === 'APPROVAL_REJECTED') {
    // The engine's message names who rejected it and why, e.g. "send_email was not approved (bob rejected it: …); it did not run".
    const message = observation.error.message.replace(/[\s.]+$/u, '');
    return notSent(s, `rejected at approval${message ? `: ${message}` : ''}`);
  }
  if (!observation.ok) return notSent(s, describeFailure(observation), [describeFailure(observation)]);
  const parsed = EmailResultSchema.safeParse(observation.result);
  if (!parsed.success) {
    return notSent(s, 'send_email returned a result of an unexpected shape, so whether it went out is unknown; it is not sent again');
  }
  const { message_id: messageId, rejected } = parsed.data;
  const cc = s.params.cc.length > 0 ? ` (cc ${list(s.params.cc)})` : '';
  const refused = rejected.length > 0 ? ` The mail server refused ${list(rejected)}, so it did not reach ${rejected.length === 1 ? 'that address' : 'those addresses'}.` : '';
  const line = `Sent to ${list(s.params.to)}${cc} with send_email, subject "${subjectLine(s.params.subject)}", message id \`${messageId}\`.${refused}`;
  return finish(s, line, { sent: true, message_id: messageId, rejected, failures: [] });
}

/** One turn of the email step. */
export function emailStep(input: StepInput<EmailParams>): StepOutcome {
  const { request, params } = input;
  const report = reportOf(request.dependencies);
  const s: Sending = { params, ...report };
  const called = request.history.some((t) => t.decision.type === 'tool_calls' && t.decision.calls.some((c) => c.tool === 'send_email'));
  if (called) return afterSending(s, input.observations.find((o) => o.tool === 'send_email'));
  if (!input.available.has('send_email')) return notSent(s, 'send_email is not offered to this step (email is not configured on this service: SMTP_URL)');
  if (report.text.length === 0) return notSent(s, 'the earlier steps produced no text to send');
  if (!input.canCall) return notSent(s, 'no tool turn was left to send it');
  return callOutcome(`Sending the report to ${list(params.to)} with send_email.`, [emailCall(params, report.text)]);
}
