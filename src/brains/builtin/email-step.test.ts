import { describe, expect, it } from 'vitest';
import type { Decision, DependencyOutput, Observation, TurnRecord } from '../types.js';
import { EMAIL_TOOLS, MESSAGE_ID, sendEmailObservation, type MailOutcome } from './__fixtures__/data-tools.js';
import { SALES_FILE } from './__fixtures__/fake-tools.js';
import { decideRequest, planRequest, recordingContext, task } from './__fixtures__/harness.js';
import { decideStep } from './decide.js';
import { MAX_SUBJECT, subjectLine, unsentLine, withEmailSection } from './email-step.js';
import { buildPlan } from './planner.js';

const INPUT = 'Analyze this CSV and email the summary to ops@example.com';
const PLAN = buildPlan(planRequest(INPUT, { files: [SALES_FILE], tools: EMAIL_TOOLS }));
const BRIEF = task(INPUT, [SALES_FILE]);
const SUMMARY = '# Analyze this CSV\n\n## Answer\n\n**sales.csv** has 6 rows and 5 columns.\n\n## Sources\n\n- File `file-sales`: sales.csv\n';
const SUMMARY_STEP: DependencyOutput = {
  step_id: 's3',
  agent: 'writer',
  title: 'Write the report',
  output: { text: SUMMARY, sources: [{ kind: 'file', id: 'file-sales', title: 'sales.csv' }] },
};

function decide(options: { history?: TurnRecord[]; tools?: typeof EMAIL_TOOLS; maxIterations?: number; dependencies?: DependencyOutput[] } = {}): Decision {
  const { dependencies = [SUMMARY_STEP], tools = EMAIL_TOOLS, ...rest } = options;
  return decideStep(decideRequest(PLAN, 's4', BRIEF, { dependencies, tools, ...rest }), recordingContext());
}

function finalOf(decision: Decision) {
  if (decision.type !== 'final') throw new Error(`expected a final decision, got ${JSON.stringify(decision)}`);
  return decision.output;
}

/** The first turn (the send_email call) and what came back, as the engine would journal it. */
function sent(outcome: MailOutcome | Observation): TurnRecord[] {
  const first = decide();
  if (first.type !== 'tool_calls' || !first.calls[0]) throw new Error('expected the send_email call');
  const observation = 'tool' in outcome ? outcome : sendEmailObservation(first.calls[0], 'c0', outcome);
  return [{ turn: 0, decision: first, observations: [observation] }];
}

describe('email step', () => {
  it('is the writer with send_email, after the summary', () => {
    expect(PLAN.steps[3]).toMatchObject({ id: 's4', agent: 'writer', tools: ['send_email'], depends_on: ['s3'] });
  });

  it('first calls send_email with the recipients, a subject naming the file and the summary as the text', () => {
    expect(decide()).toEqual({
      type: 'tool_calls',
      thought: 'Sending the report to ops@example.com with send_email.',
      calls: [{ tool: 'send_email', args: { to: ['ops@example.com'], subject: 'Summary: sales.csv', text: SUMMARY.trim() } }],
    });
  });

  it('passes cc recipients on', () => {
    const input = 'Analyze this CSV and email it to ops@example.com, cc boss@example.com';
    const plan = buildPlan(planRequest(input, { files: [SALES_FILE], tools: EMAIL_TOOLS }));
    const decision = decideStep(decideRequest(plan, 's4', task(input, [SALES_FILE]), { dependencies: [SUMMARY_STEP], tools: EMAIL_TOOLS }), recordingContext());
    expect(decision.type === 'tool_calls' && decision.calls[0]?.args).toMatchObject({ to: ['ops@example.com'], cc: ['boss@example.com'] });
  });

  it('after the mail went out, gives the summary with a line naming the recipients and the message id', () => {
    const output = finalOf(decide({ history: sent({ sent: true }) }));
    expect(output.text).toBe(
      `${SUMMARY.trim()}\n\n## Email\n\nSent to ops@example.com with send_email, subject "Summary: sales.csv", message id \`${MESSAGE_ID}\`.\n`,
    );
    expect(output.sources).toEqual(SUMMARY_STEP.output.sources);
    expect(output.data).toEqual({ kind: 'email', to: ['ops@example.com'], cc: [], sent: true, message_id: MESSAGE_ID, rejected: [], failures: [] });
  });

  it('names recipients the mail server refused', () => {
    const input = 'Analyze this CSV and email it to ops@example.com and gone@example.com';
    const plan = buildPlan(planRequest(input, { files: [SALES_FILE], tools: EMAIL_TOOLS }));
    const req = (history: TurnRecord[] = []) => decideRequest(plan, 's4', task(input, [SALES_FILE]), { dependencies: [SUMMARY_STEP], tools: EMAIL_TOOLS, history });
    const first = decideStep(req(), recordingContext());
    if (first.type !== 'tool_calls' || !first.calls[0]) throw new Error('expected the send_email call');
    const observation = sendEmailObservation(first.calls[0], 'c0', { sent: true, rejected: ['gone@example.com'] });
    const text = finalOf(decideStep(req([{ turn: 0, decision: first, observations: [observation] }]), recordingContext())).text;
    expect(text).toContain('Sent to ops@example.com and gone@example.com with send_email');
    expect(text).toContain('The mail server refused gone@example.com, so it did not reach that address.');
  });

  it('after the call was rejected at approval, gives the summary saying it was not sent and why', () => {
    const message = 'send_email was not approved (dana rejected it: not for ops.); it did not run.';
    const output = finalOf(decide({ history: sent({ sent: false, code: 'APPROVAL_REJECTED', message }) }));
    const reason = 'rejected at approval: send_email was not approved (dana rejected it: not for ops.); it did not run';
    expect(output.text).toBe(`${SUMMARY.trim()}\n\n## Email\n\nNot sent to ops@example.com: ${reason}.\n`);
    expect(output.data).toEqual({ kind: 'email', to: ['ops@example.com'], cc: [], sent: false, rejected: [], reason, failures: [] });
  });

  it('after a failure, says it was not sent with the error', () => {
    const output = finalOf(decide({ history: sent({ sent: false, code: 'EMAIL_FAILED', message: 'SMTP server mail:587 refused the credentials: 535' }) }));
    expect(output.text).toContain('Not sent to ops@example.com: `send_email` failed (EMAIL_FAILED): SMTP server mail:587 refused the credentials: 535.');
    expect(output.data).toMatchObject({ sent: false, failures: [expect.stringContaining('EMAIL_FAILED')] });
  });

  it('never sends twice, even when asked again after a failed goal check', () => {
    const history = sent({ sent: true });
    const goal: Observation = { call_id: 'g', tool: 'goal_check', args: null, ok: false, error: { code: 'GOAL_NOT_MET', message: 'x' } };
    const again = decide({ history: [...history, { turn: 1, decision: { type: 'final', output: { text: 'x', sources: [] } }, observations: [goal] }] });
    expect(finalOf(again).text).toContain(`message id \`${MESSAGE_ID}\``);
  });

  it('does not claim a result it does not have', () => {
    const unexpected: Observation = { call_id: 'c0', tool: 'send_email', args: {}, ok: true, result: { queued: true } };
    expect(finalOf(decide({ history: sent(unexpected) })).text).toContain('Not sent to ops@example.com: send_email returned a result of an unexpected shape');
  });

  it('finishes without sending when send_email is not offered, there is nothing to send, or no turn is left', () => {
    expect(finalOf(decide({ tools: [] })).text).toContain('Not sent to ops@example.com: send_email is not offered to this step (email is not configured on this service: SMTP_URL).');
    const empty = { ...SUMMARY_STEP, output: { text: '  ', sources: [] } };
    expect(finalOf(decide({ dependencies: [empty] })).text).toBe('## Email\n\nNot sent to ops@example.com: the earlier steps produced no text to send.\n');
    expect(finalOf(decide({ maxIterations: 1 })).text).toContain('Not sent to ops@example.com: no tool turn was left to send it.');
  });
});

describe('email helpers', () => {
  it('keeps a subject to one line of at most 300 characters', () => {
    expect(subjectLine('Summary:\r\n  a.csv')).toBe('Summary: a.csv');
    const long = subjectLine(`Summary: ${'x'.repeat(400)}`);
    expect(long).toHaveLength(MAX_SUBJECT);
    expect(long.endsWith('…')).toBe(true);
  });

  it('says why an email the plan cannot send is not sent', () => {
    expect(unsentLine({ to: ['a@x.com', 'b@y.com'], reason: 'not_configured' })).toBe(
      'Not sent: the task asks for this to be emailed to a@x.com and b@y.com, but email is not configured on this service (set SMTP_URL and AGENTIC_EMAIL_FROM to offer send_email).',
    );
    expect(unsentLine({ to: ['a@x.com'], reason: 'no_step' })).toContain('the step budget left no step to send it');
  });

  it('appends the Email section after the report', () => {
    expect(withEmailSection('# R\n\nbody\n\n', 'Sent.')).toBe('# R\n\nbody\n\n## Email\n\nSent.\n');
  });
});
