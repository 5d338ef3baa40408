import { describe, expect, it } from 'vitest';
import { SALES_FILE } from './__fixtures__/fake-tools.js';
import { task } from './__fixtures__/harness.js';
import { extractAddresses, findEmailRequest, withoutEmailRequest } from './email-request.js';
import { analyseTask } from './intent.js';

const recipients = (text: string) => {
  const r = findEmailRequest(text);
  return r ? { to: r.to, cc: r.cc } : null;
};

describe('findEmailRequest', () => {
  it.each([
    ['Analyze this CSV and email the summary to ops@example.com', ['ops@example.com']],
    ['email the summary to a@x.com and b@y.com', ['a@x.com', 'b@y.com']],
    ['Summarize the results, then send it to ana@example.com, bo@example.org and cy@example.net.', ['ana@example.com', 'bo@example.org', 'cy@example.net']],
    ['Mail the report to finance@corp.example.co.uk', ['finance@corp.example.co.uk']],
    ['Please e-mail it to First.Last+reports@sub-domain.example.com!', ['First.Last+reports@sub-domain.example.com']],
    ['Email ops@example.com the totals', ['ops@example.com']],
    ['Forward the findings to the ops team at ops@example.com', ['ops@example.com']],
    ['Send an email with the totals to ops@example.com', ['ops@example.com']],
    ['Send the report to <ops@example.com>', ['ops@example.com']],
    ['email the summary to ops@example.com and OPS@example.com', ['ops@example.com']],
  ])('%s', (text, to) => {
    expect(recipients(text)).toEqual({ to, cc: [] });
  });

  it('puts addresses after "cc" in cc, without repeating a main recipient', () => {
    expect(recipients('Email the report to ops@example.com, cc boss@example.com and ops@example.com')).toEqual({
      to: ['ops@example.com'],
      cc: ['boss@example.com'],
    });
  });

  it('treats copies as the recipients when no main recipient is named', () => {
    expect(recipients('Send the numbers, cc: boss@example.com')).toEqual({ to: ['boss@example.com'], cc: [] });
  });

  it.each([
    ['Summarize our email policy'],
    ['What does the handbook say about email?'],
    ['Send me the summary'],
    ['Email the summary'],
    ['Contact support@example.com if the import fails'],
    ['Summarize the email from alice@example.com'],
    ['Write an email to ops@example.com about the outage'],
    ['List the email addresses like ops@example.com in the file'],
    ['Analyze emails.csv and count the rows per sender@example.com'],
    ['Send the numbers from sales@example.com'],
    ['Find forward-looking statements by ir@example.com'],
    ['Summarize the emails sent to ops@example.com'],
    ['Can you send me a summary? My address is ops@example.com'],
  ])('is not a request: %s', (text) => {
    expect(findEmailRequest(text)).toBeNull();
  });

  it('gives the span of the request, so the rest of the task reads without it', () => {
    const text = 'Analyze this CSV and email the summary to ops@example.com.';
    expect(withoutEmailRequest(text, findEmailRequest(text))).toBe('Analyze this CSV.');
    const mid = 'Research the travel policy and then email it to a@x.com and b@y.com; keep it short';
    expect(withoutEmailRequest(mid, findEmailRequest(mid))).toBe('Research the travel policy; keep it short');
    expect(withoutEmailRequest('Research X', null)).toBe('Research X');
  });
});

describe('extractAddresses', () => {
  it('keeps sentence punctuation and quotes out of addresses', () => {
    expect(extractAddresses('to "ops@example.com", (b@y.org). Or c@z.io; mailto:d@w.dev').map((a) => a.address)).toEqual([
      'ops@example.com',
      'b@y.org',
      'c@z.io',
      'd@w.dev',
    ]);
  });

  it('rejects what is not an address', () => {
    expect(extractAddresses('a@b, @example.com, a..b@x.com, x@-bad.com, x@bad-.com, user@host, a@b.c, x@y.com@z')).toEqual([]);
  });
});

describe('analyseTask with an email request', () => {
  it('keeps the CSV rule and takes the email clause out of the topic and the summary cue', () => {
    const a = analyseTask(task('Analyze this CSV and email the summary to ops@example.com', [SALES_FILE]));
    expect(a.primary).toBe('csv');
    expect(a.email).toEqual({ to: ['ops@example.com'], cc: [] });
    expect(a.text).toBe('Analyze this CSV');
    expect(a.topic).toBe('CSV');
    expect(a.summary).toBe(false);
  });

  it('reads the group hint of the rest of the task, not of the address', () => {
    const a = analyseTask(task('Break down sales.csv by region and send it to ops@example.com', [SALES_FILE]));
    expect(a.groupHint).toBe('region');
    expect(a.email?.to).toEqual(['ops@example.com']);
  });

  it('plans research as research, not as a summary, when the summary is only what gets emailed', () => {
    const a = analyseTask(task('Research the travel policy and email the summary to ops@example.com'));
    expect(a.primary).toBe('research');
    expect(a.topic).toBe('travel policy');
  });

  it('has no email request when the task names none', () => {
    expect(analyseTask(task('Summarize our email policy')).email).toBeNull();
  });
});
