/**
 * Seed 003's example, end to end with the built-in brain and no model: upload a CSV, ask to
 * "Analyze this CSV and email the summary to ops@example.com", and get a profile, an SQL analysis,
 * a written summary, an approval request, and after approval exactly one email at a real SMTP server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, expectFinishedLog, ndjsonLines, type Json } from './support/http.js';
import { startTestServer, type TestServer } from './support/server.js';
import { startSmtpSink, type SmtpSink } from './support/smtp-server.js';
import { until } from './support/wait.js';

const CSV = ['region,product,amount', 'north,widget,120', 'south,widget,80', 'north,gadget,45.5', 'east,gadget,60', 'south,gizmo,30'].join('\n');

let smtp: SmtpSink;
let s: TestServer;

beforeAll(async () => {
  smtp = await startSmtpSink();
  s = await startTestServer({ config: { smtpUrl: smtp.url, emailFrom: 'Agentic <agent@example.com>' } });
});
afterAll(async () => {
  await s?.close();
  await smtp?.stop();
});

async function upload(): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([CSV], { type: 'text/csv' }), 'sales.csv');
  const res = await fetch(`${s.url}/v1/files`, { method: 'POST', body: form });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

async function run(decision: 'approve' | 'reject') {
  const file = await upload();
  const created = await call<{ id: string }>(s.url, '/v1/tasks', { json: { input: 'Analyze this CSV and email the summary to ops@example.com', files: [file] } });
  expect(created.status).toBe(202);
  const id = created.body.id;
  await until(async () => ((await call(s.url, `/v1/tasks/${id}`)).body as { status: string }).status === 'awaiting_approval');
  const pending = (await call(s.url, `/v1/approvals?task_id=${id}`)).body as { items: Array<{ id: string; tool: string; args: Json }> };
  expect(pending.items).toHaveLength(1);
  const decided = await call(s.url, `/v1/approvals/${pending.items[0]!.id}`, { json: { decision, reason: decision === 'reject' ? 'not yet' : undefined } });
  expect(decided.status).toBe(200);
  const events = ndjsonLines((await call(s.url, `/v1/tasks/${id}/events?format=ndjson`)).text);
  expectFinishedLog(events, id);
  const task = (await call(s.url, `/v1/tasks/${id}`)).body as Json & { status: string; final_output: string; steps: Array<{ id: string; agent: string; tools: string[]; status: string }> };
  return { id, task, events, approval: pending.items[0]! };
}

describe('the seed example: analyse a CSV and email the summary', () => {
  it('profiles, queries, writes, asks for approval, and after approval sends exactly one email', async () => {
    const before = smtp.messages.length;
    const { task, events, approval } = await run('approve');
    expect(task.status).toBe('completed');
    // The plan: profile and SQL in parallel, the summary, then the email.
    const tools = task.steps.map((st) => st.tools).flat();
    expect(tools).toEqual(expect.arrayContaining(['data_profile', 'sql_query', 'send_email']));
    expect(task.steps.every((st) => st.status === 'completed')).toBe(true);
    const used = events.filter((e) => e.type === 'tool_call_completed').map((e) => (e.data as { tool: string; ok: boolean }));
    expect(used.filter((u) => u.tool === 'sql_query').length).toBeGreaterThanOrEqual(1);
    expect(used.every((u) => u.ok)).toBe(true);
    // The approval named the exact call.
    expect(approval.tool).toBe('send_email');
    expect(approval.args).toMatchObject({ to: ['ops@example.com'], subject: 'Summary: sales.csv' });
    // One email, carrying the summary, with the ledger's Message-ID.
    await smtp.waitForMessages(before + 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(smtp.messages.length).toBe(before + 1);
    const mail = smtp.messages.at(-1)!;
    expect(mail.envelope.to).toEqual(['ops@example.com']);
    expect(mail.subject).toBe('Summary: sales.csv');
    expect(mail.text).toContain('sales.csv');
    expect(mail.text).toContain('region');
    expect(task.final_output).toContain('## Email');
    expect(task.final_output).toContain(`message id \`${mail.messageId}\``);
    const types = events.map((e) => e.type);
    expect(types.indexOf('approval_requested')).toBeLessThan(types.indexOf('approval_decided'));
  });

  it('sends nothing when the approval is rejected, and says so in the result', async () => {
    const before = smtp.messages.length;
    const { task } = await run('reject');
    expect(task.status).toBe('completed');
    expect(task.final_output).toMatch(/Not sent to ops@example\.com: rejected at approval: .*local rejected it: not yet/);
    await new Promise((r) => setTimeout(r, 200));
    expect(smtp.messages.length).toBe(before);
  });
});
