/**
 * The tool policy and tool grants, end to end, through the HTTP API of a real service: the policy API
 * (versions, conflicts, validation, audit, roles); the policy deciding an agent's calls in tasks
 * against a real SMTP server (deny with a TOOL_DENIED observation and a `tool_call_denied` event,
 * allow without approval, ask parking the task), with the task creator's roles and the calling agent
 * in rules; the operator's policy (enforced rules, defaults a tenant overrides, rules for some
 * tenants); direct invocation (the built-in default, tenant rules, approval, the legacy
 * AGENTIC_TOOL_INVOKERS, POST /v1/policy/check agreeing with real calls); GET /v1/tools reporting
 * the policy; tools, SQL sources and MCP servers granted to some tenants only; and knowledge_search
 * never crossing tenants.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ScriptedBrain } from '../src/brains/scripted.js';
import type { Decision, Observation } from '../src/brains/types.js';
import type { Config } from '../src/config/index.js';
import { createBuiltinTools, createToolRegistry } from '../src/tools/index.js';
import type { ToolDefinition } from '../src/tools/types.js';
import { actAs, makeKey, type TestKey } from './support/access.js';
import { call, expectError, type Answer, type Json } from './support/http.js';
import { POSTGRES_URL, requirePostgres } from './support/postgres.js';
import { startTestServer, type TestServer } from './support/server.js';
import { startSmtpSink, type SmtpSink } from './support/smtp-server.js';
import { sinkTool } from './support/tools.js';
import { until } from './support/wait.js';

// ---------------------------------------------------------------------------------------------
// A scripted agent: the task's input is a JSON script naming the agent, the tool it calls once and
// the arguments. The agent then answers with what it observed. What it saw is kept by task id.

interface Script {
  /** The step's agent; writer by default. */
  agent?: string;
  tool: string;
  args?: unknown;
  /** The tools the plan gives the step; `[tool]` by default. */
  plan_tools?: string[];
}

interface Seen {
  /** The tools the planner was offered. */
  planTools: string[];
  /** The tools (name → description) the agent was offered. */
  agentTools: Map<string, string>;
  /** The observation of the scripted call. */
  observation?: Observation;
}

const seen = new Map<string, Seen>();

function scriptOf(input: string): Script {
  return JSON.parse(input) as Script;
}

const brain = new ScriptedBrain({
  plan: (req) => {
    const s = scriptOf(req.task.input);
    seen.set(req.task.id, { planTools: req.tools.map((t) => t.name), agentTools: new Map() });
    return {
      rationale: 'scripted',
      steps: [{ id: 's', agent: s.agent ?? 'writer', title: `Call ${s.tool}`, instruction: `call ${s.tool}`, depends_on: [], tools: s.plan_tools ?? [s.tool] }],
    };
  },
  decide: (req): Decision => {
    const s = scriptOf(req.task.input);
    const record = seen.get(req.task.id) ?? { planTools: [], agentTools: new Map<string, string>() };
    seen.set(req.task.id, record);
    for (const t of req.tools) record.agentTools.set(t.name, t.description);
    const observed = req.history.flatMap((h) => h.observations).find((o) => o.tool === s.tool);
    if (!observed) return { type: 'tool_calls', calls: [{ tool: s.tool, args: s.args ?? {} }] };
    record.observation = observed;
    const text = observed.ok ? `ok: ${JSON.stringify(observed.result)}` : `failed: ${observed.error!.code}: ${observed.error!.message}`;
    return { type: 'final', output: { text, sources: [] } };
  },
});

// ---------------------------------------------------------------------------------------------
// Helpers

type Event = Json & { type: string; step_id?: string; data: Json };
type Headers = Record<string, string>;

function unique(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

async function createTask(srv: TestServer, headers: Headers, script: Script): Promise<string> {
  const res = await call<{ id: string }>(srv.url, '/v1/tasks', { json: { input: JSON.stringify(script) }, headers });
  expect(res.status, res.text).toBe(202);
  return res.body.id;
}

async function finished(srv: TestServer, id: string): Promise<{ status: string; final_output: string | null }> {
  await until(async () => ['completed', 'failed', 'cancelled'].includes((await srv.app.store.getTask(id))?.status ?? ''), 30_000);
  const t = (await srv.app.store.getTask(id))!;
  return { status: t.status, final_output: t.final_output ?? null };
}

async function awaitingApproval(srv: TestServer, id: string): Promise<void> {
  await until(async () => {
    const status = (await srv.app.store.getTask(id))?.status ?? '';
    if (['completed', 'failed', 'cancelled'].includes(status)) throw new Error(`task ${id} ended (${status}) instead of waiting for approval`);
    return status === 'awaiting_approval';
  }, 30_000);
}

async function events(srv: TestServer, id: string): Promise<Event[]> {
  return (await srv.app.store.listEvents(id, 0, 1000)) as unknown as Event[];
}

async function putPolicy(srv: TestServer, headers: Headers, rules: unknown[], extra: Json = {}): Promise<Answer> {
  return call(srv.url, '/v1/policy', { method: 'PUT', json: { rules, ...extra }, headers });
}

/** PUTs a policy that must be accepted; returns its version. */
async function setPolicy(srv: TestServer, headers: Headers, rules: unknown[]): Promise<number> {
  const res = await putPolicy(srv, headers, rules);
  expect(res.status, res.text).toBe(200);
  return (res.body as { version: number }).version;
}

async function invoke(srv: TestServer, headers: Headers, tool: string, args: unknown, key?: string): Promise<Answer> {
  return call(srv.url, `/v1/tools/${tool}/invoke`, { json: { args }, headers: { ...headers, ...(key ? { 'idempotency-key': key } : {}) } });
}

async function check(srv: TestServer, headers: Headers, body: Json): Promise<Json> {
  const res = await call(srv.url, '/v1/policy/check', { json: body, headers });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

type ToolItem = Json & { name: string; description: string; policy: { task: string; direct: string }; needs_approval: string; invocable: boolean; input_schema: Json };

async function tools(srv: TestServer, headers: Headers): Promise<Map<string, ToolItem>> {
  const res = await call<{ items: ToolItem[] }>(srv.url, '/v1/tools', { headers });
  expect(res.status, res.text).toBe(200);
  return new Map(res.body.items.map((t) => [t.name, t]));
}

/** A read-only tool granted to tenant acme only. */
function acmeReportTool(): ToolDefinition<{ quarter: string }, { report: string }> {
  return {
    name: 'acme_report',
    description: 'Reads acme\'s quarterly report',
    input: z.object({ quarter: z.string() }),
    output: z.object({ report: z.string() }),
    timeoutMs: 5_000,
    effect: 'read_only',
    tenants: ['acme'],
    run: async ({ quarter }) => ({ report: `acme ${quarter}: fine` }),
  };
}

const servers: TestServer[] = [];

async function boot(config: Partial<Config>, withRegistry = true, sinkCalls = new Map<string, number>()): Promise<TestServer> {
  const tools = withRegistry ? createToolRegistry([...createBuiltinTools(), sinkTool(sinkCalls), acmeReportTool()]) : undefined;
  const srv = await startTestServer({ brain, tools, config: { reconcileMs: 500, ...config } });
  servers.push(srv);
  return srv;
}

afterAll(async () => {
  for (const srv of servers.splice(0)) await srv.close();
});

// ---------------------------------------------------------------------------------------------
// 1. The policy API

describe('the policy API', () => {
  let s: TestServer;
  let admin: TestKey;
  let admin2: TestKey;
  let member: TestKey;
  let viewer: TestKey;

  beforeAll(async () => {
    s = await boot({ auth: 'required' });
    admin = await makeKey(s.app, 'alpha', 'admin', { name: 'alice' });
    admin2 = await makeKey(s.app, 'alpha', 'admin', { name: 'bob' });
    member = await makeKey(s.app, 'alpha', 'member');
    viewer = await makeKey(s.app, 'alpha', 'viewer');
  });

  it('shows version 0 with no rules, the operator\'s rules and the built-in ones', async () => {
    const res = await call<Json & { operator: { enforced: Json[]; defaults: Json[] }; built_in: Json[] }>(s.url, '/v1/policy', { headers: admin.headers });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ tenant: 'alpha', version: 0, rules: [], updated_at: null, updated_by: null });
    expect(res.body.operator.enforced).toEqual([]);
    // No operator settings: no operator defaults; the direct-call floor is the built-in one.
    expect(res.body.operator.defaults).toEqual([]);
    expect(res.body.built_in.map((r) => r.label)).toEqual(['default:direct', 'default:side-effects', 'default:allow']);
    expect(res.body.built_in[1]).toMatchObject({ tool: '*', effects: ['side_effect'], decision: 'ask' });
  });

  it('stores each change as a new version, refuses a stale expected_version, and audits every change', async () => {
    const rules1 = [{ tool: 'sink', via: 'direct', decision: 'ask' }];
    const v1 = await putPolicy(s, admin.headers, rules1, { expected_version: 0 });
    expect(v1.status, v1.text).toBe(200);
    expect(v1.body).toMatchObject({ tenant: 'alpha', version: 1, rules: rules1, updated_by: `key:${admin.id}` });
    const rules2 = [{ id: 'no-sink', tool: 'sink', decision: 'deny', reason: 'not today' }];
    const v2 = await putPolicy(s, admin2.headers, rules2, { expected_version: 1 });
    expect(v2.status, v2.text).toBe(200);
    expect(v2.body).toMatchObject({ version: 2, rules: rules2, updated_by: `key:${admin2.id}` });

    // Someone read version 1 and writes after version 2 was made: refused, nothing stored.
    const stale = await putPolicy(s, admin.headers, [{ tool: '*', decision: 'allow' }], { expected_version: 1 });
    const e = expectError(stale, 409, 'POLICY_VERSION_CONFLICT');
    expect(e.details).toMatchObject({ version: 2, expected: 1 });
    const now = await call(s.url, '/v1/policy', { headers: viewer.headers });
    expect(now.body).toMatchObject({ version: 2, rules: rules2 });

    // The change applies at once (the cache is invalidated in this process).
    expect(await check(s, viewer.headers, { tool: 'sink', args: { value: 'x' } })).toEqual({
      decision: 'deny', rule: 'no-sink', source: 'tenant', version: 2, reason: 'sink: not today',
    });

    const audit = await call<{ items: Json[] }>(s.url, '/v1/audit?action=policy.changed', { headers: admin.headers });
    expect(audit.status, audit.text).toBe(200);
    expect(audit.body.items).toEqual([
      expect.objectContaining({ action: 'policy.changed', principal: `key:${admin2.id}`, principal_name: 'bob', target_id: 'alpha@2', details: { version: 2, rules: 1 } }),
      expect.objectContaining({ action: 'policy.changed', principal: `key:${admin.id}`, principal_name: 'alice', target_id: 'alpha@1', details: { version: 1, rules: 1 } }),
    ]);
  });

  it('refuses invalid policies with the path of each problem, and stores nothing', async () => {
    const before = (await call<{ version: number }>(s.url, '/v1/policy', { headers: admin.headers })).body.version;
    const cases: Array<{ rules: unknown[]; path: string; message: RegExp }> = [
      { rules: [{ tool: 'sink', decision: 'deny', colour: 'red' }], path: 'rules.0.colour', message: /unknown key/ },
      { rules: [{ tool: 'sink', decision: 'deny' }, { tool: 'sink', decision: 'deny', tenants: ['beta'] }], path: 'rules.1.tenants', message: /only in the operator's policy/ },
      { rules: [{ tool: 'sink', decision: 'deny', enforce: true }], path: 'rules.0.enforce', message: /only in the operator's policy/ },
      { rules: [{ tool: 'sink', decision: 'maybe' }], path: 'rules.0.decision', message: /decision is allow, deny, ask/ },
      { rules: [{ tool: 'send_email', decision: 'ask', when: { recipients: { outside: ['example.com'], inside: ['example.org'] } } }], path: 'rules.0.when.recipients', message: /exactly one of outside, inside/ },
      { rules: [{ tool: 'send_email', decision: 'ask', when: { recipients: { beyond: ['example.com'] } } }], path: 'rules.0.when.recipients.beyond', message: /unknown key/ },
      { rules: [{ tool: 'x', decision: 'deny', when: { arg: { name: 'q', matches: '.*' } } }], path: 'rules.0.when.arg.matches', message: /only in the operator's policy/ },
    ];
    for (const c of cases) {
      const res = await putPolicy(s, admin.headers, c.rules);
      const e = expectError(res, 400, 'VALIDATION_ERROR');
      const issues = e.details.issues as Array<{ path: string; message: string }>;
      expect(issues, JSON.stringify(c.rules)).toContainEqual({ path: c.path, message: expect.stringMatching(c.message) });
    }
    expect((await call<{ version: number }>(s.url, '/v1/policy', { headers: admin.headers })).body.version).toBe(before);
  });

  it('pages the versions, newest first', async () => {
    const tenant = unique('pages');
    const key = await makeKey(s.app, tenant, 'admin');
    for (let i = 1; i <= 3; i++) await setPolicy(s, key.headers, [{ id: `r${i}`, tool: 'sink', decision: 'deny' }]);
    const first = await call<{ items: Array<{ version: number; rules: Json[] }>; next_cursor: string | null }>(s.url, '/v1/policy/versions?limit=2', { headers: key.headers });
    expect(first.status, first.text).toBe(200);
    expect(first.body.items.map((p) => p.version)).toEqual([3, 2]);
    expect(first.body.items[0]!.rules).toEqual([{ id: 'r3', tool: 'sink', decision: 'deny' }]);
    expect(first.body.next_cursor).not.toBeNull();
    const second = await call<{ items: Array<{ version: number }>; next_cursor: string | null }>(s.url, `/v1/policy/versions?limit=2&cursor=${first.body.next_cursor}`, { headers: key.headers });
    expect(second.body.items.map((p) => p.version)).toEqual([1]);
    expect(second.body.next_cursor).toBeNull();
  });

  it('lets viewers and members read the policy but only admins change it', async () => {
    for (const k of [viewer, member]) {
      expect((await call(s.url, '/v1/policy', { headers: k.headers })).status).toBe(200);
      expect((await call(s.url, '/v1/policy/check', { json: { tool: 'calculator' }, headers: k.headers })).status).toBe(200);
      expectError(await putPolicy(s, k.headers, [{ tool: '*', decision: 'allow' }]), 403, 'FORBIDDEN');
      expectError(await call(s.url, '/v1/policy/versions', { headers: k.headers }), 403, 'FORBIDDEN');
    }
    const before = (await call<{ version: number }>(s.url, '/v1/policy', { headers: admin.headers })).body.version;
    expect(await setPolicy(s, admin.headers, [{ tool: 'sink', decision: 'deny' }])).toBe(before + 1);
    // Another tenant's admin sees and changes only its own policy.
    const other = await makeKey(s.app, unique('other'), 'admin');
    expect((await call(s.url, '/v1/policy', { headers: other.headers })).body).toMatchObject({ version: 0, rules: [] });
  });
});

// ---------------------------------------------------------------------------------------------
// 2 and 3. The policy in tasks: send_email against a real SMTP server

describe('the policy in tasks (send_email to a real SMTP server)', () => {
  let smtp: SmtpSink;
  let s: TestServer;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    s = await boot({ auth: 'required', smtpUrl: smtp.url, emailFrom: 'Agent <agent@example.com>' }, false);
  });
  afterAll(async () => {
    await smtp?.stop();
  });

  const sentTo = (address: string) => smtp.messages.filter((m) => m.envelope.to.includes(address));
  const mail = (args: Json, agent = 'writer'): Script => ({ agent, tool: 'send_email', args: { subject: 'Summary', text: 'Revenue grew 12%.', ...args } });
  const EXTERNAL = { tool: 'send_email', when: { recipients: { outside: ['example.com'] } }, decision: 'deny', reason: 'external mail is not allowed' };

  it('denies mail outside the domain: the agent reads TOOL_DENIED naming the rule, nothing is sent, tool_call_denied is recorded', async () => {
    const tenant = unique('mail');
    const admin = await makeKey(s.app, tenant, 'admin');
    const version = await setPolicy(s, admin.headers, [EXTERNAL]);
    const to = `${unique('bob')}@evil.test`;
    const id = await createTask(s, admin.headers, mail({ to: [to] }));
    const done = await finished(s, id);
    expect(done.status).toBe('completed');

    const obs = seen.get(id)!.observation!;
    expect(obs.ok).toBe(false);
    expect(obs.error!.code).toBe('TOOL_DENIED');
    expect(obs.error!.message).toContain('rule tenant#1');
    expect(obs.error!.message).toContain('external mail is not allowed');
    expect(obs.error!.message).toContain(`recipients outside example.com (${to})`);
    expect(obs.error!.details).toMatchObject({ tool: 'send_email', decision: 'deny', rule: 'tenant#1', source: 'tenant', version });
    expect(done.final_output).toMatch(/^failed: TOOL_DENIED: /);

    expect(sentTo(to)).toEqual([]);
    expect(await s.app.store.listToolCalls(id)).toEqual([]);
    const evs = await events(s, id);
    const denied = evs.filter((e) => e.type === 'tool_call_denied');
    expect(denied).toHaveLength(1);
    expect(denied[0]!.data).toMatchObject({
      tool: 'send_email',
      call_id: 's.0.0',
      reason: `send_email: recipients outside example.com (${to}) — external mail is not allowed`,
      policy: { decision: 'deny', rule: 'tenant#1', source: 'tenant', version },
    });
    expect(evs.some((e) => e.type === 'tool_call_started' || e.type === 'approval_requested')).toBe(false);
  });

  it('catches a recipient outside the domain in cc or bcc only', async () => {
    const tenant = unique('mail');
    const admin = await makeKey(s.app, tenant, 'admin');
    await setPolicy(s, admin.headers, [{ id: 'external-mail', ...EXTERNAL }]);
    const inside = `${unique('ops')}@example.com`;
    const cc = `${unique('cc')}@evil.test`;
    const bcc = `${unique('bcc')}@evil.test`;
    for (const [field, outsider] of [['cc', cc], ['bcc', bcc]] as const) {
      const id = await createTask(s, admin.headers, mail({ to: [inside], [field]: [outsider] }));
      expect((await finished(s, id)).status).toBe('completed');
      const obs = seen.get(id)!.observation!;
      expect({ field, code: obs.error?.code }).toEqual({ field, code: 'TOOL_DENIED' });
      expect(obs.error!.message).toContain(`recipients outside example.com (${outsider})`);
      expect(obs.error!.message).toContain('rule external-mail');
      const denied = (await events(s, id)).find((e) => e.type === 'tool_call_denied');
      expect(denied?.data.policy).toMatchObject({ decision: 'deny', rule: 'external-mail', source: 'tenant' });
    }
    expect(sentTo(inside)).toEqual([]);
    expect(sentTo(cc)).toEqual([]);
    expect(sentTo(bcc)).toEqual([]);
  });

  it('sends mail inside the domain under an allow rule at once, with the rule in tool_call_started', async () => {
    const tenant = unique('mail');
    const admin = await makeKey(s.app, tenant, 'admin');
    const version = await setPolicy(s, admin.headers, [EXTERNAL, { tool: 'send_email', when: { recipients: { inside: ['example.com'] } }, decision: 'allow' }]);
    const to = `${unique('ops')}@sales.example.com`;
    const id = await createTask(s, admin.headers, mail({ to: [to] }));
    const done = await finished(s, id);
    expect(done.status).toBe('completed');
    expect(seen.get(id)!.observation).toMatchObject({ ok: true, result: { accepted: [to] } });
    await until(() => sentTo(to).length === 1);
    const evs = await events(s, id);
    expect(evs.some((e) => e.type === 'approval_requested')).toBe(false);
    const started = evs.filter((e) => e.type === 'tool_call_started');
    expect(started).toHaveLength(1);
    expect(started[0]!.data).toMatchObject({ tool: 'send_email', policy: { decision: 'allow', rule: 'tenant#2', source: 'tenant', version } });
  });

  it('parks the task for an ask rule; the approval names the matched recipients; once approved the mail goes', async () => {
    const tenant = unique('mail');
    const admin = await makeKey(s.app, tenant, 'admin');
    const approver = await makeKey(s.app, tenant, 'approver');
    const version = await setPolicy(s, admin.headers, [
      { tool: 'send_email', when: { recipients: { outside: ['example.com'] } }, decision: 'ask', reason: 'mail leaving the company is read first' },
    ]);
    const partner = `${unique('bob')}@partner.test`;
    const id = await createTask(s, admin.headers, mail({ to: [`${unique('ops')}@example.com`, partner] }));
    await awaitingApproval(s, id);
    const list = await call<{ items: Array<Json & { id: string }> }>(s.url, `/v1/approvals?task_id=${id}`, { headers: admin.headers });
    expect(list.body.items).toHaveLength(1);
    const approval = list.body.items[0]!;
    expect(approval).toMatchObject({ status: 'pending', tool: 'send_email', requested_by: `key:${admin.id}` });
    expect(approval.reason_requested).toBe(`send_email: recipients outside example.com (${partner}) — mail leaving the company is read first`);
    const requested = (await events(s, id)).find((e) => e.type === 'approval_requested')!;
    expect(requested.data).toMatchObject({ approval_id: approval.id, reason: approval.reason_requested, policy: { decision: 'ask', rule: 'tenant#1', source: 'tenant', version } });
    expect(sentTo(partner)).toEqual([]);

    const decided = await call(s.url, `/v1/approvals/${approval.id}`, { json: { decision: 'approve' }, headers: approver.headers });
    expect(decided.status, decided.text).toBe(200);
    expect((await finished(s, id)).status).toBe('completed');
    await until(() => sentTo(partner).length === 1);
    const started = (await events(s, id)).find((e) => e.type === 'tool_call_started');
    expect(started?.data.policy).toMatchObject({ decision: 'ask', rule: 'tenant#1' });
  });

  it('looks at the roles of the task\'s creator: an admin\'s task sends, a member\'s waits for approval', async () => {
    const tenant = unique('roles');
    const admin = await makeKey(s.app, tenant, 'admin');
    const member = await makeKey(s.app, tenant, 'member');
    await setPolicy(s, admin.headers, [{ tool: 'send_email', roles: ['admin'], decision: 'allow' }]);
    const toAdmin = `${unique('a')}@example.com`;
    const byAdmin = await createTask(s, admin.headers, mail({ to: [toAdmin] }));
    expect((await finished(s, byAdmin)).status).toBe('completed');
    await until(() => sentTo(toAdmin).length === 1);
    expect((await events(s, byAdmin)).find((e) => e.type === 'tool_call_started')?.data.policy).toMatchObject({ decision: 'allow', rule: 'tenant#1' });

    const toMember = `${unique('m')}@example.com`;
    const byMember = await createTask(s, member.headers, mail({ to: [toMember] }));
    await awaitingApproval(s, byMember);
    const requested = (await events(s, byMember)).find((e) => e.type === 'approval_requested')!;
    expect(requested.data).toMatchObject({ reason: 'send_email has side effects', requested_by: `key:${member.id}`, policy: { decision: 'ask', rule: 'default:side-effects', source: 'default' } });
    expect(sentTo(toMember)).toEqual([]);
    // POST /v1/policy/check answers the same for each set of roles.
    expect(await check(s, member.headers, { tool: 'send_email', agent: 'writer', args: { to: [toMember] } })).toMatchObject({ decision: 'ask', rule: 'default:side-effects' });
    expect(await check(s, member.headers, { tool: 'send_email', agent: 'writer', roles: ['admin'], args: { to: [toMember] } })).toMatchObject({ decision: 'allow', rule: 'tenant#1' });
  });

  it('restricts a rule with agents to the calling agent', async () => {
    const tenant = unique('agents');
    const admin = await makeKey(s.app, tenant, 'admin');
    await setPolicy(s, admin.headers, [
      { id: 'no-researcher-mail', tool: 'send_email', agents: ['researcher'], decision: 'deny', reason: 'researchers do not send mail' },
      { tool: 'send_email', decision: 'allow' },
    ]);
    const toResearcher = `${unique('r')}@example.com`;
    const byResearcher = await createTask(s, admin.headers, mail({ to: [toResearcher] }, 'researcher'));
    expect((await finished(s, byResearcher)).status).toBe('completed');
    const obs = seen.get(byResearcher)!.observation!;
    expect(obs.error).toMatchObject({ code: 'TOOL_DENIED', details: { rule: 'no-researcher-mail' } });
    expect(obs.error!.message).toContain('researchers do not send mail');
    expect(sentTo(toResearcher)).toEqual([]);

    const toWriter = `${unique('w')}@example.com`;
    const byWriter = await createTask(s, admin.headers, mail({ to: [toWriter] }, 'writer'));
    expect((await finished(s, byWriter)).status).toBe('completed');
    await until(() => sentTo(toWriter).length === 1);
    expect((await events(s, byWriter)).find((e) => e.type === 'tool_call_started')?.data.policy).toMatchObject({ decision: 'allow', rule: 'tenant#2' });
  });
});

// ---------------------------------------------------------------------------------------------
// 4. The operator's policy

describe('the operator\'s policy (AGENTIC_TOOL_POLICY)', () => {
  let s: TestServer;
  const sinkCalls = new Map<string, number>();

  beforeAll(async () => {
    const toolPolicy = JSON.stringify({
      rules: [
        { id: 'locked-no-sink', tool: 'sink', tenants: ['locked'], enforce: true, decision: 'deny', reason: 'the sink is closed for this tenant' },
        { id: 'ops-calc-ask', tool: 'calculator', via: 'direct', decision: 'ask', reason: 'the operator reads direct calculations' },
      ],
    });
    s = await boot({ toolPolicy }, true, sinkCalls);
  });

  it('lists the operator\'s rules for the tenants they apply to', async () => {
    const locked = await call<{ operator: { enforced: Json[]; defaults: Json[] } }>(s.url, '/v1/policy', { headers: actAs('locked') });
    expect(locked.body.operator.enforced).toEqual([expect.objectContaining({ label: 'locked-no-sink', enforce: true, tenants: ['locked'], decision: 'deny' })]);
    expect(locked.body.operator.defaults.map((r) => r.label)).toContain('ops-calc-ask');
    const open = await call<{ operator: { enforced: Json[]; defaults: Json[] } }>(s.url, '/v1/policy', { headers: actAs('open') });
    expect(open.body.operator.enforced).toEqual([]);
    expect(open.body.operator.defaults.map((r) => r.label)).toContain('ops-calc-ask');
  });

  it('an enforced deny beats the tenant\'s allow, in direct calls and in tasks; it applies only to the tenants it names', async () => {
    const allowSink = [{ tool: 'sink', decision: 'allow' }];
    await setPolicy(s, actAs('locked'), allowSink);
    await setPolicy(s, actAs('open'), allowSink);

    const denied = await invoke(s, actAs('locked'), 'sink', { value: 'v' }, unique('k'));
    const e = expectError(denied, 403, 'TOOL_DENIED');
    expect(e.details).toMatchObject({ tool: 'sink', decision: 'deny', rule: 'locked-no-sink', source: 'operator', version: null });
    expect(e.message).toContain('the sink is closed for this tenant');
    expect(await check(s, actAs('locked'), { tool: 'sink', via: 'direct', args: { value: 'v' } })).toMatchObject({ decision: 'deny', rule: 'locked-no-sink', source: 'operator' });

    const id = await createTask(s, actAs('locked'), { agent: 'writer', tool: 'sink', args: { value: 'from a task' } });
    expect((await finished(s, id)).status).toBe('completed');
    expect(seen.get(id)!.observation!.error).toMatchObject({ code: 'TOOL_DENIED', details: { rule: 'locked-no-sink', source: 'operator' } });
    expect((await events(s, id)).find((e) => e.type === 'tool_call_denied')?.data.policy).toMatchObject({ decision: 'deny', rule: 'locked-no-sink', source: 'operator', version: null });

    // Tenant open is not named by the rule: its own allow rule decides.
    const calls = sinkCalls.size;
    const ok = await invoke(s, actAs('open'), 'sink', { value: 'v' }, unique('k'));
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ ok: true, result: { stored: 'v' }, policy: { decision: 'allow', rule: 'tenant#1', source: 'tenant', version: 1 } });
    expect(sinkCalls.size).toBe(calls + 1);
  });

  it('a rule without enforce is a default the tenant\'s own rule overrides', async () => {
    const asked = await invoke(s, actAs('plain'), 'calculator', { expression: '6 * 7' }, unique('k'));
    expect(asked.status, asked.text).toBe(202);
    expect(asked.body).toMatchObject({ status: 'awaiting_approval', policy: { decision: 'ask', rule: 'ops-calc-ask', source: 'operator', version: null } });
    expect((asked.body as { approval: Json }).approval).toMatchObject({ reason_requested: 'calculator: the operator reads direct calculations' });

    await setPolicy(s, actAs('calc'), [{ tool: 'calculator', via: 'direct', decision: 'allow' }]);
    const ok = await invoke(s, actAs('calc'), 'calculator', { expression: '6 * 7' });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ result: { result: 42 }, policy: { decision: 'allow', rule: 'tenant#1', source: 'tenant' } });
  });
});

// ---------------------------------------------------------------------------------------------
// 5, 6 and 7 (registry grants). Direct invocation, GET /v1/tools, and tools granted to a tenant

describe('direct invocation, the tools list and tool grants', () => {
  let s: TestServer;
  const sinkCalls = new Map<string, number>();

  beforeAll(async () => {
    s = await boot({ auth: 'required' }, true, sinkCalls);
  });

  it('denies a side-effecting tool by default, allows a read-only one, and policy/check agrees', async () => {
    const admin = await makeKey(s.app, unique('d'), 'admin');
    const denied = await invoke(s, admin.headers, 'sink', { value: 'v' }, unique('k'));
    const e = expectError(denied, 403, 'TOOL_DENIED');
    expect(e.details).toMatchObject({ tool: 'sink', decision: 'deny', rule: 'default:direct' });
    expect(e.message).toContain('may be invoked directly only when the policy allows it');
    const checked = await check(s, admin.headers, { tool: 'sink', via: 'direct', args: { value: 'v' } });
    expect(checked).toMatchObject({ decision: 'deny', rule: e.details.rule, source: e.details.source });

    const ok = await invoke(s, admin.headers, 'calculator', { expression: '2 + 2' });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ ok: true, result: { result: 4 }, policy: { decision: 'allow', rule: 'default:allow', source: 'default' } });
    expect(await check(s, admin.headers, { tool: 'calculator', via: 'direct', args: { expression: '2 + 2' } })).toMatchObject({ decision: 'allow', rule: 'default:allow' });
  });

  it('runs a side-effecting tool a tenant rule allows directly, and audits the call', async () => {
    const tenant = unique('d');
    const admin = await makeKey(s.app, tenant, 'admin', { name: 'operator-alice' });
    const member = await makeKey(s.app, tenant, 'member', { name: 'member-mo' });
    const version = await setPolicy(s, admin.headers, [{ tool: 'sink', via: 'direct', decision: 'allow' }]);
    // A side effect needs an Idempotency-Key.
    expectError(await invoke(s, member.headers, 'sink', { value: 'v' }), 400, 'VALIDATION_ERROR');
    const before = sinkCalls.size;
    const ok = await invoke(s, member.headers, 'sink', { value: 'direct' }, unique('k'));
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ tool: 'sink', ok: true, replayed: false, result: { stored: 'direct' }, policy: { decision: 'allow', rule: 'tenant#1', source: 'tenant', version } });
    expect(sinkCalls.size).toBe(before + 1);
    // The rule is about direct calls: in tasks the built-in default still asks.
    expect(await check(s, member.headers, { tool: 'sink', args: { value: 'x' } })).toMatchObject({ decision: 'ask', rule: 'default:side-effects' });

    const audit = await call<{ items: Json[] }>(s.url, '/v1/audit?action=tool.invoked', { headers: admin.headers });
    expect(audit.status, audit.text).toBe(200);
    expect(audit.body.items).toEqual([
      expect.objectContaining({
        action: 'tool.invoked',
        principal: `key:${member.id}`,
        principal_name: 'member-mo',
        target_type: 'tool',
        target_id: 'sink',
        details: expect.objectContaining({ ok: true, policy: { decision: 'allow', rule: 'tenant#1', source: 'tenant', version } }),
      }),
    ]);
  });

  it('answers 202 with a pending approval for via: direct + ask', async () => {
    const tenant = unique('d');
    const admin = await makeKey(s.app, tenant, 'admin');
    const member = await makeKey(s.app, tenant, 'member');
    const version = await setPolicy(s, admin.headers, [{ tool: 'sink', via: 'direct', decision: 'ask', reason: 'someone looks first' }]);
    const before = sinkCalls.size;
    const key = unique('k');
    const asked = await invoke(s, member.headers, 'sink', { value: 'later' }, key);
    expect(asked.status, asked.text).toBe(202);
    expect(asked.body).toMatchObject({
      tool: 'sink',
      status: 'awaiting_approval',
      approval: { status: 'pending', tool: 'sink', reason_requested: 'sink: someone looks first', requested_by: `key:${member.id}`, task_id: null },
      policy: { decision: 'ask', rule: 'tenant#1', source: 'tenant', version },
    });
    expect(sinkCalls.size).toBe(before);
    expect(await check(s, member.headers, { tool: 'sink', via: 'direct', args: { value: 'later' } })).toMatchObject({ decision: 'ask', rule: 'tenant#1', reason: 'sink: someone looks first' });
    // Approved by the admin, the same request runs.
    const approvalId = (asked.body as { approval: { id: string } }).approval.id;
    expect((await call(s.url, `/v1/approvals/${approvalId}`, { json: { decision: 'approve' }, headers: admin.headers })).status).toBe(200);
    const ran = await invoke(s, member.headers, 'sink', { value: 'later' }, key);
    expect(ran.status, ran.text).toBe(200);
    expect(sinkCalls.size).toBe(before + 1);
  });

  it('evaluates proposed rules in policy/check without saving them', async () => {
    const tenant = unique('d');
    const admin = await makeKey(s.app, tenant, 'admin');
    const proposed = [{ id: 'try-it', tool: 'sink', via: 'direct', decision: 'allow' }];
    expect(await check(s, admin.headers, { tool: 'sink', via: 'direct', args: { value: 'v' }, rules: proposed })).toMatchObject({ decision: 'allow', rule: 'try-it', source: 'tenant' });
    expect((await call(s.url, '/v1/policy', { headers: admin.headers })).body).toMatchObject({ version: 0, rules: [] });
    expectError(await invoke(s, admin.headers, 'sink', { value: 'v' }, unique('k')), 403, 'TOOL_DENIED');
    // Invalid proposed rules are refused like a PUT.
    const bad = await call(s.url, '/v1/policy/check', { json: { tool: 'sink', rules: [{ tool: 'sink', decision: 'perhaps' }] }, headers: admin.headers });
    expect((expectError(bad, 400, 'VALIDATION_ERROR').details.issues as Json[])[0]).toMatchObject({ path: 'rules.0.decision' });
  });

  it('reports the policy per tool in GET /v1/tools, consistent with needs_approval and invocable', async () => {
    const tenant = unique('list');
    const admin = await makeKey(s.app, tenant, 'admin');
    const member = await makeKey(s.app, tenant, 'member');
    let list = await tools(s, admin.headers);
    expect(list.get('sink')).toMatchObject({ policy: { task: 'ask', direct: 'deny' }, needs_approval: 'always', invocable: false });
    expect(list.get('calculator')).toMatchObject({ policy: { task: 'allow', direct: 'allow' }, needs_approval: 'never', invocable: true });

    await setPolicy(s, admin.headers, [
      { tool: 'sink', via: 'direct', decision: 'allow' },
      { tool: 'sink', roles: ['admin'], decision: 'allow' },
      { tool: 'calculator', when: { arg: { name: 'expression', equals: ['1 / 0'] } }, decision: 'deny' },
      { tool: 'data_profile', via: 'direct', decision: 'ask' },
      { tool: 'knowledge_search', agents: ['researcher'], decision: 'deny' },
    ]);
    list = await tools(s, admin.headers);
    expect(list.get('sink')).toMatchObject({ policy: { task: 'allow', direct: 'allow' }, needs_approval: 'never', invocable: true });
    expect(list.get('calculator')).toMatchObject({ policy: { task: 'depends', direct: 'depends' }, needs_approval: 'depends_on_args', invocable: true });
    expect(list.get('data_profile')).toMatchObject({ policy: { task: 'allow', direct: 'ask' }, needs_approval: 'never', invocable: true });
    // A rule about agents makes task calls depend on the agent; a direct call has none.
    expect(list.get('knowledge_search')).toMatchObject({ policy: { task: 'depends', direct: 'allow' }, needs_approval: 'depends_on_args', invocable: true });
    // The roles rule: a member's tasks still ask.
    const asMember = await tools(s, member.headers);
    expect(asMember.get('sink')).toMatchObject({ policy: { task: 'ask', direct: 'allow' }, needs_approval: 'always', invocable: true });
    // What the list says agrees with the real decisions.
    expect(await check(s, admin.headers, { tool: 'calculator', args: { expression: '1 / 0' } })).toMatchObject({ decision: 'deny', rule: 'tenant#3' });
    expect(await check(s, admin.headers, { tool: 'calculator', args: { expression: '1 + 1' } })).toMatchObject({ decision: 'allow', rule: 'default:allow' });
    expect(await check(s, admin.headers, { tool: 'knowledge_search', agent: 'researcher', args: { query: 'x' } })).toMatchObject({ decision: 'deny', rule: 'tenant#5' });
    expect(await check(s, admin.headers, { tool: 'knowledge_search', agent: 'writer', args: { query: 'x' } })).toMatchObject({ decision: 'allow' });

    await setPolicy(s, admin.headers, [{ tool: 'sink', decision: 'deny' }]);
    list = await tools(s, admin.headers);
    expect(list.get('sink')).toMatchObject({ policy: { task: 'deny', direct: 'deny' }, invocable: false });
  });

  it('a tool granted to acme only is listed, invocable and usable in tasks for acme, and does not exist for another tenant', async () => {
    const acme = await makeKey(s.app, 'acme', 'admin');
    const beta = await makeKey(s.app, 'beta', 'admin');
    expect((await tools(s, acme.headers)).has('acme_report')).toBe(true);
    expect((await tools(s, beta.headers)).has('acme_report')).toBe(false);

    const mine = await invoke(s, acme.headers, 'acme_report', { quarter: 'Q1' });
    expect(mine.status, mine.text).toBe(200);
    expect(mine.body).toMatchObject({ result: { report: 'acme Q1: fine' } });
    expect(expectError(await invoke(s, beta.headers, 'acme_report', { quarter: 'Q1' }), 404, 'TOOL_NOT_FOUND').details).toEqual({ tool: 'acme_report' });
    expectError(await call(s.url, '/v1/policy/check', { json: { tool: 'acme_report' }, headers: beta.headers }), 404, 'TOOL_NOT_FOUND');

    // acme's agent gets the tool and uses it.
    const acmeTask = await createTask(s, acme.headers, { agent: 'researcher', tool: 'acme_report', args: { quarter: 'Q2' } });
    expect((await finished(s, acmeTask)).status).toBe('completed');
    expect(seen.get(acmeTask)!.planTools).toContain('acme_report');
    expect(seen.get(acmeTask)!.observation).toMatchObject({ ok: true, result: { report: 'acme Q2: fine' } });

    // beta's planner and agent are never offered it; a call of it is refused without running.
    const betaTask = await createTask(s, beta.headers, { agent: 'researcher', tool: 'acme_report', args: { quarter: 'Q2' }, plan_tools: [] });
    expect((await finished(s, betaTask)).status).toBe('completed');
    const betaSeen = seen.get(betaTask)!;
    expect(betaSeen.planTools).not.toContain('acme_report');
    expect(betaSeen.planTools).toContain('knowledge_search');
    expect([...betaSeen.agentTools.keys()]).not.toContain('acme_report');
    expect(betaSeen.observation!.error).toMatchObject({ code: 'TOOL_NOT_ALLOWED' });
    expect((betaSeen.observation!.error!.details as { allowed: string[] }).allowed).not.toContain('acme_report');
    expect(await s.app.store.listToolCalls(betaTask)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// 5. The legacy AGENTIC_TOOL_INVOKERS

describe('the legacy AGENTIC_TOOL_INVOKERS', () => {
  it('lets only the tenants it lists invoke the tool directly (a side effect still asks)', async () => {
    const sinkCalls = new Map<string, number>();
    const s = await boot({ toolInvokers: { sink: ['acme'] } }, true, sinkCalls);
    const denied = await invoke(s, actAs('beta'), 'sink', { value: 'v' }, unique('k'));
    const e = expectError(denied, 403, 'TOOL_DENIED');
    expect(e.details).toMatchObject({ tool: 'sink', decision: 'deny', rule: 'AGENTIC_TOOL_INVOKERS:sink', source: 'operator' });
    expect(e.message).toContain('tenant beta may not invoke sink directly (AGENTIC_TOOL_INVOKERS)');
    expect(await check(s, actAs('beta'), { tool: 'sink', via: 'direct', args: { value: 'v' } })).toMatchObject({ decision: 'deny', rule: 'AGENTIC_TOOL_INVOKERS:sink' });
    // A tenant policy may still open it for beta (a tenant rule comes before the operator's defaults).
    expect((await tools(s, actAs('beta'))).get('sink')).toMatchObject({ policy: { direct: 'deny' }, invocable: false });
    expect((await tools(s, actAs('acme'))).get('sink')).toMatchObject({ policy: { direct: 'ask' }, invocable: true });

    const key = unique('k');
    const asked = await invoke(s, actAs('acme'), 'sink', { value: 'v' }, key);
    expect(asked.status, asked.text).toBe(202);
    expect(asked.body).toMatchObject({ policy: { decision: 'ask', rule: 'AGENTIC_TOOL_INVOKERS:sink', source: 'operator' } });
    const approvalId = (asked.body as { approval: { id: string } }).approval.id;
    expect((await call(s.url, `/v1/approvals/${approvalId}`, { json: { decision: 'approve' }, headers: actAs('acme') })).status).toBe(200);
    const ran = await invoke(s, actAs('acme'), 'sink', { value: 'v' }, key);
    expect(ran.status, ran.text).toBe(200);
    expect(sinkCalls.size).toBe(1);
    // Read-only tools stay open to everyone.
    expect((await invoke(s, actAs('beta'), 'calculator', { expression: '1 + 2' })).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------
// 7. SQL sources granted to tenants (a real PostgreSQL)

const withPostgres = await requirePostgres();

describe.runIf(withPostgres)('SQL sources granted to tenants', () => {
  let s: TestServer;

  beforeAll(async () => {
    const sqlSources = JSON.stringify([
      { name: 'acme_db', url: POSTGRES_URL, allow_superuser: true, tenants: ['acme'], description: 'acme warehouse' },
      { name: 'beta_db', url: POSTGRES_URL, allow_superuser: true, tenants: ['beta'], description: 'beta warehouse' },
      { name: 'shared_db', url: POSTGRES_URL, allow_superuser: true },
    ]);
    s = await boot({ sqlSources }, false);
  });

  it('shows each tenant only its sources and refuses another tenant\'s source as unknown', async () => {
    const acmeSql = (await tools(s, actAs('acme'))).get('sql_query')!;
    const betaSql = (await tools(s, actAs('beta'))).get('sql_query')!;
    expect(acmeSql.description).toContain('acme_db (acme warehouse)');
    expect(acmeSql.description).toContain('shared_db');
    expect(acmeSql.description).not.toContain('beta_db');
    expect(betaSql.description).toContain('beta_db');
    expect(betaSql.description).not.toContain('acme');
    expect(JSON.stringify(betaSql.input_schema)).not.toContain('acme_db');

    const mine = await invoke(s, actAs('acme'), 'sql_query', { source: 'acme_db', query: 'SELECT 40 + 2 AS answer' });
    expect(mine.status, mine.text).toBe(200);
    expect(mine.body).toMatchObject({ ok: true, result: { source: 'acme_db', columns: [expect.objectContaining({ name: 'answer' })], rows: [[42]] } });

    const theirs = await invoke(s, actAs('beta'), 'sql_query', { source: 'acme_db', query: 'SELECT 1' });
    const e = expectError(theirs, 400, 'TOOL_INPUT_INVALID');
    expect(e.message).toBe('Unknown source "acme_db"; available: files, beta_db, shared_db');
  });

  it('does not name another tenant\'s sources when a source is misspelt', async () => {
    const res = await invoke(s, actAs('beta'), 'sql_query', { source: 'nope', query: 'SELECT 1' });
    const e = expectError(res, 400, 'TOOL_INPUT_INVALID');
    // The error must not reveal that acme_db exists.
    expect(JSON.stringify({ message: e.message, details: e.details })).not.toContain('acme_db');
  });

  it('offers a task\'s agent only its tenant\'s sources', async () => {
    const id = await createTask(s, actAs('beta'), { agent: 'analyst', tool: 'sql_query', args: { source: 'acme_db', query: 'SELECT 1' } });
    expect((await finished(s, id)).status).toBe('completed');
    const record = seen.get(id)!;
    expect(record.agentTools.get('sql_query')).toContain('beta_db');
    expect(record.agentTools.get('sql_query')).not.toContain('acme_db');
    expect(record.observation!.error).toMatchObject({ code: 'TOOL_INPUT_INVALID', message: 'Unknown source "acme_db"; available: files, beta_db, shared_db' });
  });
});

// ---------------------------------------------------------------------------------------------
// 7. An MCP server granted to a tenant

describe('an MCP server granted to a tenant', () => {
  let s: TestServer;

  beforeAll(async () => {
    const require = createRequire(import.meta.url);
    const everything = join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');
    const mcpServers = JSON.stringify([{ name: 'everything', command: process.execPath, args: [everything, 'stdio'], tenants: ['acme'], approval: { echo: 'always' } }]);
    s = await boot({ mcpServers }, false);
  });

  it('is listed, invocable and offered to agents only for its tenants', async () => {
    expect((await tools(s, actAs('acme'))).has('everything__echo')).toBe(true);
    expect([...(await tools(s, actAs('beta'))).keys()].filter((n) => n.startsWith('everything__'))).toEqual([]);
    expect((await tools(s, {})).has('everything__echo')).toBe(false);

    expectError(await invoke(s, actAs('beta'), 'everything__echo', { message: 'hi' }), 404, 'TOOL_NOT_FOUND');
    expectError(await call(s.url, '/v1/policy/check', { json: { tool: 'everything__echo' }, headers: actAs('beta') }), 404, 'TOOL_NOT_FOUND');
    // acme's direct call: the server's approval setting asks.
    const asked = await invoke(s, actAs('acme'), 'everything__echo', { message: 'hi' }, unique('k'));
    expect(asked.status, asked.text).toBe(202);
    expect(asked.body).toMatchObject({ policy: { decision: 'ask', rule: 'mcp:everything__echo', source: 'operator' } });

    // beta's planner and agent never get the tool; a call of it is refused without running.
    const id = await createTask(s, actAs('beta'), { agent: 'researcher', tool: 'everything__echo', args: { message: 'hi' }, plan_tools: [] });
    expect((await finished(s, id)).status).toBe('completed');
    expect(seen.get(id)!.planTools.some((n) => n.startsWith('everything__'))).toBe(false);
    expect([...seen.get(id)!.agentTools.keys()].some((n) => n.startsWith('everything__'))).toBe(false);
    expect(seen.get(id)!.observation!.error).toMatchObject({ code: 'TOOL_NOT_ALLOWED' });
    expect(await s.app.store.listToolCalls(id)).toEqual([]);
  });

  it('GET /v1/policy does not reveal the server\'s tools to a tenant it is not granted to', async () => {
    const acmePolicy = await call<{ operator: { defaults: Array<{ label: string }> } }>(s.url, '/v1/policy', { headers: actAs('acme') });
    expect(acmePolicy.body.operator.defaults.map((r) => r.label)).toContain('mcp:everything__echo');
    const betaPolicy = await call(s.url, '/v1/policy', { headers: actAs('beta') });
    expect(betaPolicy.status).toBe(200);
    expect(betaPolicy.text).not.toContain('everything__');
  });
});

// ---------------------------------------------------------------------------------------------
// 8. knowledge_search stays inside the tenant

describe('knowledge_search in tasks', () => {
  it('returns only the task\'s tenant\'s passages', async () => {
    const s = await boot({}, false);
    const word = `snorkelwort${randomBytes(3).toString('hex')}`;
    const docs: Record<string, string> = {};
    for (const tenant of ['kb-a', 'kb-b']) {
      const res = await call<{ id: string }>(s.url, '/v1/documents', {
        json: { title: `${tenant} notes`, content: `The ${word} of ${tenant} grows by the river. Only ${tenant} may read this.` },
        headers: actAs(tenant),
      });
      expect(res.status, res.text).toBe(201);
      docs[tenant] = res.body.id;
    }
    for (const [tenant, other] of [['kb-b', 'kb-a'], ['kb-a', 'kb-b']] as const) {
      const id = await createTask(s, actAs(tenant), { agent: 'researcher', tool: 'knowledge_search', args: { query: word, limit: 20 } });
      expect((await finished(s, id)).status).toBe('completed');
      const completed = (await events(s, id)).find((e) => e.type === 'tool_call_completed' && e.data.tool === 'knowledge_search');
      expect(completed?.data.ok).toBe(true);
      const passages = (completed!.data.result as { passages: Array<{ document_id: string; text: string }> }).passages;
      expect(passages.length).toBeGreaterThan(0);
      expect(new Set(passages.map((p) => p.document_id))).toEqual(new Set([docs[tenant]]));
      expect(JSON.stringify(passages)).not.toContain(other);
    }
  });
});
