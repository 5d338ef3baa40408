import { describe, expect, it } from 'vitest';
import { decide, globMatch, summarize, type TenantPolicy, type ToolCall } from './evaluate.js';
import { parseTenantPolicy, type PolicyRule } from './language.js';
import { createOperatorPolicy, type OperatorPolicyInput } from './operator.js';

const bare = createOperatorPolicy({ toolInvokers: {}, mcpRules: [] });

function operator(input: Partial<OperatorPolicyInput> = {}) {
  return createOperatorPolicy({ toolInvokers: {}, mcpRules: [], ...input });
}

function tenant(...rules: PolicyRule[]): TenantPolicy {
  return { version: 7, rules: parseTenantPolicy({ rules }) };
}

function call(over: Partial<ToolCall> = {}): ToolCall {
  return { tool: 'send_email', effect: 'side_effect', args: {}, via: 'task', agent: 'writer', roles: ['member'], tenantId: 'acme', ...over };
}

/** The decision and the deciding rule's label, for one call under a tenant policy. */
function outcome(policy: TenantPolicy | null, over: Partial<ToolCall> = {}, op = bare): string {
  const v = decide(op, policy, call(over));
  return `${v.decision} ${v.rule}`;
}

describe('globMatch', () => {
  it.each([
    ['send_email', 'send_email', true],
    ['send_email', 'send_emails', false],
    ['send_*', 'send_email', true],
    ['*', 'anything', true],
    ['*_email', 'send_email', true],
    ['files__*', 'files__read', true],
    ['files__*', 'files_read', false],
    ['run_?????', 'run_python', false],
    ['run_??????', 'run_python', true],
    ['r?n_*t', 'run_javascript', true],
    ['*a*b', 'xaxxb', true],
    ['*a*b', 'xaxxbc', false],
    ['Send_email', 'send_email', false],
    ['send.email', 'send_email', false],
    ['', '', true],
    ['**', '', true],
  ])('%s ~ %s → %s', (glob, name, expected) => {
    expect(globMatch(glob, name)).toBe(expected);
  });

  it('is fast on globs that would make a backtracking regex explode', () => {
    const started = performance.now();
    expect(globMatch(`${'*a'.repeat(100)}*b`, 'a'.repeat(64))).toBe(false);
    expect(performance.now() - started).toBeLessThan(100);
  });
});

describe('matching a rule', () => {
  it('by tool globs, a list of them, and except', () => {
    const p = tenant({ tool: ['run_*', 'sql_query'], except: ['run_javascript'], decision: 'deny' });
    expect(outcome(p, { tool: 'run_python', effect: 'read_only' })).toBe('deny tenant#1');
    expect(outcome(p, { tool: 'sql_query', effect: 'read_only' })).toBe('deny tenant#1');
    expect(outcome(p, { tool: 'run_javascript', effect: 'read_only' })).toBe('allow default:allow');
    expect(outcome(p, { tool: 'calculator', effect: 'read_only' })).toBe('allow default:allow');
  });

  it('by via, one or several', () => {
    const p = tenant({ tool: 'calculator', via: 'direct', decision: 'deny' }, { tool: 'calculator', via: ['task', 'direct'], decision: 'ask' });
    expect(outcome(p, { tool: 'calculator', effect: 'read_only', via: 'direct', agent: null })).toBe('deny tenant#1');
    expect(outcome(p, { tool: 'calculator', effect: 'read_only', via: 'task' })).toBe('ask tenant#2');
  });

  it('by agent; a direct call has none and never matches a rule about agents', () => {
    const p = tenant({ tool: '*', agents: ['writer'], decision: 'deny' });
    expect(outcome(p, { tool: 'calculator', effect: 'read_only', agent: 'writer' })).toBe('deny tenant#1');
    expect(outcome(p, { tool: 'calculator', effect: 'read_only', agent: 'analyst' })).toBe('allow default:allow');
    expect(outcome(p, { tool: 'calculator', effect: 'read_only', via: 'direct', agent: null })).toBe('allow default:allow');
  });

  it('by role: any role the principal holds', () => {
    const p = tenant({ tool: 'run_python', roles: ['viewer', 'approver'], decision: 'deny' });
    expect(outcome(p, { tool: 'run_python', effect: 'read_only', roles: ['approver', 'member'] })).toBe('deny tenant#1');
    expect(outcome(p, { tool: 'run_python', effect: 'read_only', roles: ['member'] })).toBe('allow default:allow');
    expect(outcome(p, { tool: 'run_python', effect: 'read_only', roles: [] })).toBe('allow default:allow');
  });

  it('by effect', () => {
    const p = tenant({ tool: '*', effects: ['idempotent'], decision: 'ask' });
    expect(outcome(p, { tool: 'files__write', effect: 'idempotent' })).toBe('ask tenant#1');
    expect(outcome(p, { tool: 'files__read', effect: 'read_only' })).toBe('allow default:allow');
  });

  it('by condition: a rule whose condition does not hold is passed over', () => {
    const p = tenant({ tool: 'send_email', when: { recipients: { inside: ['example.com'] } }, decision: 'allow' });
    expect(outcome(p, { args: { to: 'ops@example.com' } })).toBe('allow tenant#1');
    expect(outcome(p, { args: { to: 'x@evil.test' } })).toBe('ask default:side-effects');
  });
});

describe('the order of rules', () => {
  const enforcedPolicy = JSON.stringify({
    rules: [
      { id: 'no-python', tool: 'run_python', decision: 'deny', enforce: true, reason: 'no code here' },
      { tool: 'fetch_url', decision: 'ask', tenants: ['acme'] },
      { tool: 'web_search', decision: 'deny', enforce: true, tenants: ['other'] },
    ],
  });
  const op = operator({ toolPolicy: enforcedPolicy });

  it('enforced operator rules come before the tenant’s', () => {
    const p = tenant({ tool: '*', decision: 'allow' });
    const v = decide(op, p, call({ tool: 'run_python', effect: 'read_only' }));
    expect(v).toEqual({ decision: 'deny', rule: 'no-python', source: 'operator', version: null, reason: 'run_python: no code here' });
  });

  it('the tenant’s rules come before the operator’s defaults and the built-in ones', () => {
    const p = tenant({ tool: 'fetch_url', decision: 'allow' }, { tool: 'send_email', decision: 'allow' });
    expect(decide(op, p, call({ tool: 'fetch_url', effect: 'read_only' }))).toMatchObject({ decision: 'allow', rule: 'tenant#1', source: 'tenant', version: 7 });
    expect(decide(op, p, call())).toMatchObject({ decision: 'allow', rule: 'tenant#2', source: 'tenant', version: 7 });
    expect(decide(op, null, call({ tool: 'fetch_url', effect: 'read_only' }))).toMatchObject({ decision: 'ask', rule: 'operator#2', source: 'operator', version: null });
    expect(decide(op, null, call())).toMatchObject({ decision: 'ask', rule: 'default:side-effects', source: 'default', version: null });
  });

  it('operator rules apply to the tenants they name', () => {
    expect(outcome(null, { tool: 'fetch_url', effect: 'read_only', tenantId: 'other' }, op)).toBe('allow default:allow');
    expect(outcome(null, { tool: 'web_search', effect: 'read_only', tenantId: 'other' }, op)).toBe('deny operator#3');
    expect(outcome(tenant({ tool: '*', decision: 'allow' }), { tool: 'web_search', effect: 'read_only', tenantId: 'other' }, op)).toBe('deny operator#3');
    expect(outcome(null, { tool: 'web_search', effect: 'read_only', tenantId: 'acme' }, op)).toBe('allow default:allow');
  });

  it('the built-in defaults: no direct call that changes the world, approval for side effects, else allowed', () => {
    expect(outcome(null, { tool: 'files__write', effect: 'idempotent', via: 'direct', agent: null })).toBe('deny default:direct');
    expect(outcome(null, { via: 'direct', agent: null })).toBe('deny default:direct');
    expect(outcome(null, { tool: 'calculator', effect: 'read_only', via: 'direct', agent: null })).toBe('allow default:allow');
    expect(outcome(null, {})).toBe('ask default:side-effects');
    expect(outcome(null, { tool: 'files__write', effect: 'idempotent' })).toBe('allow default:allow');
  });

  it('a tenant may allow what the defaults hold back, but not what the operator enforces', () => {
    const p = tenant({ tool: 'send_email', via: 'direct', decision: 'allow' }, { tool: 'run_python', decision: 'allow' });
    expect(outcome(p, { via: 'direct', agent: null })).toBe('allow tenant#1');
    expect(outcome(p, { via: 'direct', agent: null }, operator({ toolInvokers: { send_email: ['ops'] } }))).toBe('allow tenant#1');
    expect(outcome(p, { tool: 'run_python', effect: 'read_only' }, op)).toBe('deny no-python');
  });
});

describe('reasons', () => {
  it('name the tool and what made the rule match', () => {
    const p = tenant(
      { tool: 'send_email', when: { recipients: { outside: ['example.com'] } }, decision: 'ask' },
      { tool: 'fetch_url', when: { url_hosts: { outside: ['acme.com'] } }, decision: 'deny', reason: 'only our own sites' },
    );
    expect(decide(bare, p, call({ args: { to: ['ops@example.com', 'Bob <bob@evil.test>'] } })).reason).toBe('send_email: recipients outside example.com (bob@evil.test)');
    expect(decide(bare, p, call({ tool: 'fetch_url', effect: 'read_only', args: { url: 'https://evil.test/a' } })).reason).toBe(
      'fetch_url: URL host outside acme.com (evil.test) — only our own sites',
    );
  });

  it('give the rule’s own reason, or its decision and label', () => {
    const p = tenant({ tool: 'run_python', decision: 'deny', reason: 'no code in this tenant' }, { id: 'slow-search', tool: 'web_search', decision: 'ask' }, { tool: 'sql_query', decision: 'deny' });
    expect(decide(bare, p, call({ tool: 'run_python', effect: 'read_only' })).reason).toBe('run_python: no code in this tenant');
    expect(decide(bare, p, call({ tool: 'web_search', effect: 'read_only' })).reason).toBe('web_search: needs approval by rule slow-search');
    expect(decide(bare, p, call({ tool: 'sql_query', effect: 'read_only' })).reason).toBe('sql_query: denied by rule tenant#3');
  });

  it('of the built-in defaults read as before', () => {
    expect(decide(bare, null, call()).reason).toBe('send_email has side effects');
    expect(decide(bare, null, call({ via: 'direct', agent: null })).reason).toBe(
      'send_email: a tool that changes the world may be invoked directly only when the policy allows it',
    );
    expect(decide(bare, null, call({ tool: 'calculator', effect: 'read_only' })).reason).toBe('calculator: allowed by default');
  });
});

describe('summarize', () => {
  const ctx = { via: 'task' as const, roles: ['member' as const], tenantId: 'acme' };
  const op = operator({ approvalRules: JSON.stringify([{ tool: 'send_email', when: { arg: 'to', outside_domains: ['example.com'] } }]) });

  it('answers with the first rule that can match, or depends when it reads arguments or the agent', () => {
    const p = tenant(
      { tool: 'fetch_url', when: { url_hosts: { outside: ['acme.com'] } }, decision: 'deny' },
      { tool: 'run_python', agents: ['coder'], decision: 'allow' },
      { tool: 'run_python', decision: 'deny' },
      { tool: 'sql_query', roles: ['viewer'], decision: 'deny' },
    );
    expect(summarize(bare, p, { name: 'fetch_url', effect: 'read_only' }, ctx)).toBe('depends');
    expect(summarize(bare, p, { name: 'run_python', effect: 'read_only' }, ctx)).toBe('depends');
    // A direct call has no agent: the rule about agents cannot apply, the next one does.
    expect(summarize(bare, p, { name: 'run_python', effect: 'read_only' }, { ...ctx, via: 'direct' })).toBe('deny');
    expect(summarize(bare, p, { name: 'sql_query', effect: 'read_only' }, ctx)).toBe('allow');
    expect(summarize(bare, p, { name: 'sql_query', effect: 'read_only' }, { ...ctx, roles: ['viewer'] })).toBe('deny');
  });

  it('matches what the approval mode and invocability of a tool were', () => {
    expect(summarize(op, null, { name: 'send_email', effect: 'side_effect' }, ctx)).toBe('depends');
    expect(summarize(op, null, { name: 'send_email', effect: 'side_effect' }, { ...ctx, via: 'direct' })).toBe('deny');
    expect(summarize(op, null, { name: 'files__delete', effect: 'side_effect' }, ctx)).toBe('ask');
    expect(summarize(op, null, { name: 'calculator', effect: 'read_only' }, ctx)).toBe('allow');
    expect(summarize(op, null, { name: 'calculator', effect: 'read_only' }, { ...ctx, via: 'direct' })).toBe('allow');
  });
});
