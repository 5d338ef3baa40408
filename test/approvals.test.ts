/**
 * Human approval of risky tool calls, against a real SMTP server: a call that needs approval parks
 * its step and the task shows awaiting_approval; a decision (or the request's expiry) lets it go on;
 * a rejection reaches the agent as an observation; an approval is bound to the call and its
 * arguments, records who decided, and survives a restart. Also: the tools API and its rules.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrain } from '../src/brains/scripted.js';
import type { DecideRequest, Decision } from '../src/brains/types.js';
import type { Role } from '../src/auth/principal.js';
import type { Config } from '../src/config/index.js';
import { makeKey } from './support/access.js';
import { call, type Json } from './support/http.js';
import { startTestServer, type TestServer } from './support/server.js';
import { startSmtpSink, type SmtpSink } from './support/smtp-server.js';
import { until } from './support/wait.js';

/** Options script the task: `to` (recipients) and `subject`. The agent sends once, then reports what happened. */
const brain = new ScriptedBrain({
  plan: () => ({ rationale: 'send', steps: [{ id: 'mail', agent: 'writer', title: 'Send the summary', instruction: 'send it', depends_on: [], tools: ['send_email'] }] }),
  decide: (req: DecideRequest): Decision => {
    const sent = req.history.flatMap((h) => h.observations).find((o) => o.tool === 'send_email');
    if (!sent) {
      const { to, subject } = req.task.options as { to: string[]; subject?: string };
      return { type: 'tool_calls', calls: [{ tool: 'send_email', args: { to, subject: subject ?? 'Summary', text: 'Revenue grew 12%.' } }] };
    }
    const text = sent.ok ? `Sent: ${(sent.result as { message_id: string }).message_id}` : `Not sent: ${sent.error!.code}: ${sent.error!.message}`;
    return { type: 'final', output: { text, sources: [] } };
  },
});

let smtp: SmtpSink;
let s: TestServer | undefined;
const dirs: string[] = [];

beforeAll(async () => {
  smtp = await startSmtpSink();
});
afterEach(async () => {
  await s?.close();
  s = undefined;
});
afterAll(async () => {
  await smtp.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function boot(config: Partial<Config> = {}): Promise<TestServer> {
  s = await startTestServer({ brain, config: { smtpUrl: smtp.url, emailFrom: 'Agent <agent@example.com>', reconcileMs: 200, ...config } });
  return s;
}

/** Creates a task through the engine: its options carry the script, which the API's strict options would refuse. */
async function createTask(options: Record<string, unknown>, createdBy?: { id: string; name: string | null; roles: Role[] }): Promise<string> {
  const { task } = await s!.app.engine.submit({ tenantId: 'default', input: 'Email the summary', files: [], options, start: true, createdBy });
  return task.id;
}

async function task(id: string): Promise<Json & { status: string; final_output: string | null }> {
  return (await call(s!.url, `/v1/tasks/${id}`)).body as Json & { status: string; final_output: string | null };
}

async function events(id: string): Promise<Array<Json & { type: string; data: Json }>> {
  return (await s!.app.store.listEvents(id, 0, 1000)) as unknown as Array<Json & { type: string; data: Json }>;
}

async function pendingApproval(id: string, headers: Record<string, string> = {}): Promise<Json & { id: string }> {
  await until(async () => (await s!.app.store.getTask(id))?.status === 'awaiting_approval', 20_000);
  const list = (await call(s!.url, `/v1/approvals?task_id=${id}`, { headers })).body as { items: Array<Json & { id: string }> };
  expect(list.items).toHaveLength(1);
  return list.items[0]!;
}

async function finished(id: string, headers: Record<string, string> = {}) {
  await until(async () => ['completed', 'failed', 'cancelled'].includes((await s!.app.store.getTask(id))?.status ?? ''), 20_000);
  return (await call(s!.url, `/v1/tasks/${id}`, { headers })).body as Json & { status: string; final_output: string | null };
}

describe('approval of a side-effecting call', () => {
  it('waits for a decision, then sends exactly one email, and records who approved', async () => {
    // No reconciler pass during the test: the decision itself must wake the step.
    await boot({ reconcileMs: 600_000, auth: 'required' });
    const admin = await makeKey(s!.app, 'default', 'admin', { name: 'reader' });
    const carol = await makeKey(s!.app, 'default', 'approver,member', { name: 'carol' });
    const alice = await makeKey(s!.app, 'default', 'approver', { name: 'alice' });
    const before = smtp.messages.length;
    const id = await createTask({ to: ['ops@example.com'] }, { id: `key:${carol.id}`, name: 'carol', roles: ['member', 'approver'] });
    const approval = await pendingApproval(id, admin.headers);
    expect(approval.requested_by).toBe(`key:${carol.id}`);
    expect(approval).toMatchObject({ status: 'pending', tool: 'send_email', task_id: id, step_id: 'mail', call_id: 'mail.0.0', default_decision: 'reject' });
    expect(approval.args).toMatchObject({ to: ['ops@example.com'], subject: 'Summary' });
    expect(approval.args_hash).toMatch(/^[0-9a-f]{64}$/);
    const requested = (await events(id)).find((e) => e.type === 'approval_requested')!;
    expect(requested.data).toMatchObject({ approval_id: approval.id, tool: 'send_email', args_hash: approval.args_hash, reason: 'send_email has side effects' });
    // Nothing was sent, and the step holds no lease while it waits.
    expect(smtp.messages.length).toBe(before);
    const step = (await s!.app.store.listSteps(id))[0]!;
    expect(step).toMatchObject({ status: 'waiting', lease_owner: null });

    // Four eyes: the principal whose task asked may not decide, though it holds the approver role.
    const own = await call(s!.url, `/v1/approvals/${approval.id}`, { json: { decision: 'approve' }, headers: carol.headers });
    expect(own.status, own.text).toBe(403);
    expect(own.body).toMatchObject({ error: { code: 'FORBIDDEN', details: { reason: 'four_eyes' } } });
    // X-User-Id names nobody, and a decided_by that is not the caller is refused.
    const claimed = await call(s!.url, `/v1/approvals/${approval.id}`, { json: { decision: 'approve', decided_by: 'mallory' }, headers: { ...alice.headers, 'x-user-id': 'mallory' } });
    expect(claimed.status).toBe(400);
    const decided = await call(s!.url, `/v1/approvals/${approval.id}`, { json: { decision: 'approve', reason: 'looks right' }, headers: { ...alice.headers, 'x-user-id': 'mallory' } });
    expect(decided.status, decided.text).toBe(200);
    expect(decided.body).toMatchObject({ status: 'approved', decided_by: `key:${alice.id}`, reason: 'looks right' });
    const done = await finished(id, admin.headers);
    expect(done.status).toBe('completed');
    await smtp.waitForMessages(before + 1);
    expect(smtp.messages.length).toBe(before + 1);
    expect(smtp.messages.at(-1)!.envelope.to).toEqual(['ops@example.com']);
    expect(done.final_output).toBe(`Sent: ${smtp.messages.at(-1)!.messageId}`);
    const types = (await events(id)).map((e) => e.type);
    expect(types.indexOf('approval_requested')).toBeLessThan(types.indexOf('approval_decided'));
    expect(types.indexOf('approval_decided')).toBeLessThan(types.indexOf('tool_call_started'));
    expect((await events(id)).find((e) => e.type === 'approval_decided')?.data).toMatchObject({ decided_by: `key:${alice.id}` });
    // A second decision is refused and changes nothing.
    const again = await call(s!.url, `/v1/approvals/${approval.id}`, { json: { decision: 'reject' }, headers: admin.headers });
    expect(again.status).toBe(409);
    expect((again.body as { error: { code: string } }).error.code).toBe('APPROVAL_DECIDED');
    expect((await call(s!.url, `/v1/approvals/${approval.id}`, { headers: admin.headers })).body).toMatchObject({ status: 'approved', decided_by: `key:${alice.id}` });
    // The decision is in the audit log, with its principal.
    const audit = (await call<{ items: Json[] }>(s!.url, '/v1/audit?action=approval.decided', { headers: admin.headers })).body.items;
    expect(audit).toEqual([expect.objectContaining({ principal: `key:${alice.id}`, principal_name: 'alice', target_id: approval.id, details: expect.objectContaining({ decision: 'approve' }) })]);
  });

  it('refuses a decision after the request expired, even before the reconciler applied its default', async () => {
    await boot({ reconcileMs: 600_000, approvalTtlMs: 1000 });
    const id = await createTask({ to: ['ops@example.com'] });
    const approval = await pendingApproval(id);
    await new Promise((r) => setTimeout(r, 1200));
    const late = await call(s!.url, `/v1/approvals/${approval.id}`, { json: { decision: 'approve' } });
    expect(late.status, late.text).toBe(409);
    expect(late.body).toMatchObject({ error: { code: 'APPROVAL_EXPIRED', details: { default_decision: 'reject' } } });
    expect((await call(s!.url, `/v1/approvals/${approval.id}`)).body).toMatchObject({ status: 'pending', decided_by: null });
  });

  it('gives a rejection back to the agent as an observation; nothing is sent', async () => {
    await boot();
    const before = smtp.messages.length;
    const id = await createTask({ to: ['ceo@example.com'] });
    const approval = await pendingApproval(id);
    const res = await call(s!.url, `/v1/approvals/${approval.id}`, { json: { decision: 'reject', reason: 'not to the CEO' } });
    expect(res.status).toBe(200);
    const done = await finished(id);
    expect(done.status).toBe('completed');
    expect(done.final_output).toMatch(/^Not sent: APPROVAL_REJECTED: send_email was not approved \(local rejected it: not to the CEO\)/);
    expect(smtp.messages.length).toBe(before);
    expect((await s!.app.store.listToolCalls(id)).filter((c) => c.tool === 'send_email')).toEqual([]);
  });

  it('applies the default decision when a request expires', async () => {
    await boot({ approvalTtlMs: 1000, approvalDefault: 'reject' });
    const id = await createTask({ to: ['ops@example.com'] });
    const approval = await pendingApproval(id);
    const done = await finished(id);
    expect(done.final_output).toMatch(/^Not sent: APPROVAL_REJECTED: .*expired without a decision/);
    expect((await call(s!.url, `/v1/approvals/${approval.id}`)).body).toMatchObject({ status: 'rejected', expired: true, decided_by: 'expiry' });
    expect((await events(id)).find((e) => e.type === 'approval_decided')?.data).toMatchObject({ decision: 'reject', expired: true });
  });

  it('follows the configured rules: only mail to outside domains needs approval', async () => {
    await boot({ approvalRules: JSON.stringify([{ tool: 'send_email', when: { arg: 'to', outside_domains: ['example.com'] } }]) });
    const before = smtp.messages.length;
    const inside = await createTask({ to: ['ops@example.com'] });
    expect((await finished(inside)).status).toBe('completed');
    expect(smtp.messages.length).toBe(before + 1);
    const outside = await createTask({ to: ['ops@example.com', 'someone@elsewhere.org'] });
    const approval = await pendingApproval(outside);
    expect(approval.reason_requested).toMatch(/outside example\.com \(someone@elsewhere\.org\)/);
    await call(s!.url, `/v1/approvals/${approval.id}`, { json: { decision: 'approve' } });
    expect((await finished(outside)).status).toBe('completed');
  });

  it('hides one tenant\'s requests from another', async () => {
    await boot();
    const id = await createTask({ to: ['ops@example.com'] });
    const approval = await pendingApproval(id);
    const other = { 'x-act-as-tenant': 'other' };
    expect(((await call(s!.url, '/v1/approvals', { headers: other })).body as { items: unknown[] }).items).toEqual([]);
    expect((await call(s!.url, `/v1/approvals/${approval.id}`, { headers: other })).status).toBe(404);
    const res = await call(s!.url, `/v1/approvals/${approval.id}`, { json: { decision: 'approve' }, headers: other });
    expect(res.status).toBe(404);
    expect((await call(s!.url, `/v1/approvals/${approval.id}`)).body).toMatchObject({ status: 'pending' });
    expect((await call(s!.url, `/v1/approvals/${approval.id}`, { json: { decision: 'maybe' } })).status).toBe(400);
    // Cancelling the task closes its request: nothing waits for it any more.
    await call(s!.url, `/v1/tasks/${id}/cancel`, { method: 'POST' });
    await until(async () => ((await call(s!.url, `/v1/approvals/${approval.id}`)).body as { status: string }).status !== 'pending');
    expect((await call(s!.url, `/v1/approvals/${approval.id}`)).body).toMatchObject({ status: 'rejected', decided_by: 'system', reason: 'Closed without a decision: its task ended (cancelled)' });
  });

  it('survives a restart: a request made before it is decided after it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agentic-approvals-'));
    dirs.push(dataDir);
    await boot({ dataDir });
    const before = smtp.messages.length;
    const id = await createTask({ to: ['ops@example.com'] });
    const approval = await pendingApproval(id);
    await s!.close();
    s = undefined;
    await boot({ dataDir });
    expect((await task(id)).status).toBe('awaiting_approval');
    await call(s!.url, `/v1/approvals/${approval.id}`, { json: { decision: 'approve' } });
    expect((await finished(id)).status).toBe('completed');
    expect(smtp.messages.length).toBe(before + 1);
  });
});

describe('the tools API', () => {
  it('lists every tool with its schemas, effect, approval mode and whether the caller may invoke it', async () => {
    await boot();
    const tools = ((await call(s!.url, '/v1/tools')).body as { items: Array<Json & { name: string }> }).items;
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect(byName.get('calculator')).toMatchObject({ effect: 'read_only', needs_approval: 'never', invocable: true });
    expect(byName.get('send_email')).toMatchObject({ effect: 'side_effect', side_effects: true, needs_approval: 'always', invocable: false });
    expect((byName.get('send_email')!.input_schema as { properties: Json }).properties).toHaveProperty('to');
  });

  it('invokes a tool directly, with the registry\'s validation', async () => {
    await boot();
    const ok = await call(s!.url, '/v1/tools/calculator/invoke', { json: { args: { expression: '2 * (3 + 4)' } } });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ tool: 'calculator', ok: true, result: { result: 14 } });
    const bad = await call(s!.url, '/v1/tools/calculator/invoke', { json: { args: { expr: 1 } } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: 'TOOL_INPUT_INVALID', details: { tool: 'calculator' } } });
    expect((await call(s!.url, '/v1/tools/nope/invoke', { json: { args: {} } })).status).toBe(404);
    const refused = await call(s!.url, '/v1/tools/send_email/invoke', { json: { args: { to: ['a@example.com'], subject: 's', text: 't' } }, headers: { 'idempotency-key': 'k1' } });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: { code: 'TOOL_DENIED', details: { tool: 'send_email', decision: 'deny', rule: 'default:direct' } } });
  });

  it('runs a side-effecting tool once, after approval, and replays its result for the same key', async () => {
    await boot({ toolInvokers: { send_email: ['default'] } });
    const before = smtp.messages.length;
    const body = { json: { args: { to: ['ops@example.com'], subject: 'Direct', text: 'hello' } } };
    expect((await call(s!.url, '/v1/tools/send_email/invoke', body)).status).toBe(400);
    const headers = { 'idempotency-key': 'direct-1' };
    const first = await call(s!.url, '/v1/tools/send_email/invoke', { ...body, headers });
    expect(first.status, first.text).toBe(202);
    const approval = (first.body as { approval: { id: string; status: string } }).approval;
    expect(approval.status).toBe('pending');
    expect(smtp.messages.length).toBe(before);
    await call(s!.url, `/v1/approvals/${approval.id}`, { json: { decision: 'approve' } });
    const sent = await call(s!.url, '/v1/tools/send_email/invoke', { ...body, headers });
    expect(sent.status, sent.text).toBe(200);
    expect(sent.body).toMatchObject({ ok: true, replayed: false, result: { accepted: ['ops@example.com'] } });
    const replay = await call(s!.url, '/v1/tools/send_email/invoke', { ...body, headers });
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toMatchObject({ ok: true, replayed: true });
    await smtp.waitForMessages(before + 1);
    expect(smtp.messages.length).toBe(before + 1);
    // Other arguments under the same key are refused, not confused with the call that was made.
    const changed = await call(s!.url, '/v1/tools/send_email/invoke', { json: { args: { to: ['ops@example.com'], subject: 'Other', text: 'x' } }, headers });
    expect(changed.status).toBe(409);
    expect((changed.body as { error: { code: string } }).error.code).toBe('IDEMPOTENCY_CONFLICT');
    expect(smtp.messages.length).toBe(before + 1);
    // A key is per tool: the same key on another tool is that tool's own call, not a replay of this one.
    const other = await call(s!.url, '/v1/tools/calculator/invoke', { json: { args: { expression: '1 + 1' } }, headers });
    expect(other.body).toMatchObject({ tool: 'calculator', ok: true, replayed: false, result: { result: 2 } });
  });
});
