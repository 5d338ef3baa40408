import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { labelRules, parseOperatorPolicy, parseTenantPolicy, POLICY_LIMITS, type PolicyIssue } from './language.js';

/** The issues a tenant policy is refused with. */
function issuesOf(json: unknown): PolicyIssue[] {
  try {
    parseTenantPolicy(json);
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('VALIDATION_ERROR');
    return (err as AppError).details.issues as PolicyIssue[];
  }
  throw new Error('the policy was accepted');
}

function operatorError(text: string): AppError {
  try {
    parseOperatorPolicy(text);
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('the policy was accepted');
}

const rules = (...r: unknown[]) => ({ rules: r });

describe('parseTenantPolicy', () => {
  it('accepts every part of the language a tenant may use, as written', () => {
    const policy = rules(
      { id: 'mail.outside', tool: 'send_email', when: { recipients: { outside: ['example.com'] } }, decision: 'ask', reason: 'mail leaving the company' },
      { tool: ['run_*', 'sql_query'], except: ['run_javascript'], agents: ['writer', 'manager'], decision: 'deny' },
      { tool: '*', via: 'direct', roles: ['viewer'], effects: ['side_effect', 'idempotent'], decision: 'deny' },
      { tool: 'fetch_url', via: ['task', 'direct'], when: { url_hosts: { inside: ['acme.com', '10.0.0.1', '[::1]'] } }, decision: 'allow' },
      { tool: 'sql_query', when: { sql_sources: { not_in: ['files'] }, arg: { name: 'mode', equals: ['write', 1, true] } }, decision: 'ask' },
      { tool: 'send_email', when: { arg: { name: 'to', inside_domains: ['@partner.org'] } }, decision: 'allow' },
    );
    expect(parseTenantPolicy(policy)).toEqual(policy.rules);
    expect(parseTenantPolicy({ rules: [] })).toEqual([]);
  });

  it('refuses unknown keys, naming each', () => {
    expect(issuesOf({ rules: [], version: 2 })).toEqual([{ path: 'version', message: 'unknown key' }]);
    expect(issuesOf(rules({ tool: 'x', decision: 'allow', whn: {} }))).toEqual([{ path: 'rules.0.whn', message: 'unknown key' }]);
    expect(issuesOf(rules({ tool: 'x', decision: 'ask', when: { recipients: { outside: ['a.com'], also: 1 } } }))).toEqual([
      { path: 'rules.0.when.recipients.also', message: 'unknown key' },
    ]);
  });

  it("refuses the operator's keys with a message that says so", () => {
    const [tenants] = issuesOf(rules({ tool: 'x', decision: 'deny', tenants: ['acme'] }));
    expect(tenants).toEqual({ path: 'rules.0.tenants', message: "tenants is allowed only in the operator's policy (AGENTIC_TOOL_POLICY)" });
    const [enforce] = issuesOf(rules({ tool: 'x', decision: 'deny' }, { tool: 'y', decision: 'deny', enforce: false }));
    expect(enforce).toEqual({ path: 'rules.1.enforce', message: "enforce is allowed only in the operator's policy (AGENTIC_TOOL_POLICY)" });
    const [matches] = issuesOf(rules({ tool: 'x', decision: 'ask', when: { arg: { name: 'to', matches: '(a+)+$' } } }));
    expect(matches).toEqual({ path: 'rules.0.when.arg.matches', message: "matches (a regular expression) is allowed only in the operator's policy (AGENTIC_TOOL_POLICY)" });
  });

  it(`refuses more than ${POLICY_LIMITS.rules} rules, long strings and long lists`, () => {
    const many = Array.from({ length: POLICY_LIMITS.rules + 1 }, () => ({ tool: 'x', decision: 'allow' }));
    expect(issuesOf({ rules: many })).toEqual([{ path: 'rules', message: 'at most 200 rules' }]);
    expect(issuesOf(rules({ tool: 'x', decision: 'deny', reason: 'r'.repeat(501) }))).toEqual([{ path: 'rules.0.reason', message: 'at most 500 characters' }]);
    const domains = Array.from({ length: 101 }, (_, i) => `d${i}.com`);
    expect(issuesOf(rules({ tool: 'x', decision: 'ask', when: { recipients: { inside: domains } } }))).toEqual([
      { path: 'rules.0.when.recipients.inside', message: 'at most 100 entries' },
    ]);
    expect(parseTenantPolicy({ rules: many.slice(1) })).toHaveLength(200);
  });

  it('says what a tool glob must be, at the element that is wrong', () => {
    expect(issuesOf(rules({ tool: 5, decision: 'allow' }))).toEqual([{ path: 'rules.0.tool', message: 'expected a glob or a list of globs' }]);
    expect(issuesOf(rules({ tool: { name: 'x' }, decision: 'allow' }))).toEqual([{ path: 'rules.0.tool', message: 'expected a glob or a list of globs' }]);
    expect(issuesOf(rules({ tool: ['ok', 7], decision: 'allow' }))).toEqual([{ path: 'rules.0.tool.1', message: 'Invalid input: expected string, received number' }]);
    expect(issuesOf(rules({ tool: 'send email', decision: 'allow' }))[0]).toMatchObject({ path: 'rules.0.tool', message: expect.stringMatching(/^a glob is letters/) });
    expect(issuesOf(rules({ tool: [], decision: 'allow' }))).toEqual([{ path: 'rules.0.tool', message: 'give at least one entry' }]);
    expect(issuesOf(rules({ tool: '', decision: 'allow' }))).toEqual([{ path: 'rules.0.tool', message: 'a glob is not empty' }]);
    expect(issuesOf(rules({ tool: 'x', except: 'y', decision: 'allow' }))[0]).toMatchObject({ path: 'rules.0.except' });
    expect(issuesOf(rules({ decision: 'allow' }))[0]).toMatchObject({ path: 'rules.0.tool' });
  });

  it('checks the closed vocabularies: decisions, via, agents, roles, effects', () => {
    expect(issuesOf(rules({ tool: 'x', decision: 'maybe' }))).toEqual([{ path: 'rules.0.decision', message: 'decision is allow, deny, ask' }]);
    expect(issuesOf(rules({ tool: 'x', decision: 'deny', via: 'api' }))).toEqual([{ path: 'rules.0.via', message: 'via is task or direct, or a list of them' }]);
    expect(issuesOf(rules({ tool: 'x', decision: 'deny', via: ['task', 'api'] }))).toEqual([{ path: 'rules.0.via.1', message: 'via is task or direct' }]);
    expect(issuesOf(rules({ tool: 'x', decision: 'deny', agents: ['writer', 'poet'] }))).toEqual([
      { path: 'rules.0.agents.1', message: 'agents are researcher, analyst, coder, writer, manager' },
    ]);
    expect(issuesOf(rules({ tool: 'x', decision: 'deny', roles: ['owner'] }))).toEqual([{ path: 'rules.0.roles.0', message: 'roles are viewer, member, approver, admin' }]);
    expect(issuesOf(rules({ tool: 'x', decision: 'deny', effects: ['write'] }))).toEqual([{ path: 'rules.0.effects.0', message: 'effects are read_only, idempotent, side_effect' }]);
    expect(issuesOf(rules({ tool: 'x', decision: 'deny', id: 'has space' }))[0]).toMatchObject({ path: 'rules.0.id' });
  });

  it('refuses conditions that name none or several of their choices', () => {
    expect(issuesOf(rules({ tool: 'x', decision: 'ask', when: {} }))).toEqual([
      { path: 'rules.0.when', message: 'give at least one of recipients, url_hosts, sql_sources, arg' },
    ]);
    expect(issuesOf(rules({ tool: 'x', decision: 'ask', when: { recipients: { outside: ['a.com'], inside: ['b.com'] } } }))).toEqual([
      { path: 'rules.0.when.recipients', message: 'give exactly one of outside, inside' },
    ]);
    expect(issuesOf(rules({ tool: 'x', decision: 'ask' }, { tool: 'x', decision: 'ask' }, { tool: 'x', decision: 'ask' }, { tool: 'x', decision: 'ask', when: { recipients: {} } }))).toEqual([
      { path: 'rules.3.when.recipients', message: 'give exactly one of outside, inside' },
    ]);
    expect(issuesOf(rules({ tool: 'x', decision: 'ask', when: { url_hosts: { outside: ['https://evil.test/'] } } }))[0]).toMatchObject({
      path: 'rules.0.when.url_hosts.outside.0',
      message: 'expected a host name or an IP address, like example.com or 10.0.0.1',
    });
    expect(issuesOf(rules({ tool: 'x', decision: 'ask', when: { sql_sources: { in: ['a'], not_in: ['b'] } } }))).toEqual([
      { path: 'rules.0.when.sql_sources', message: 'give exactly one of in, not_in' },
    ]);
    expect(issuesOf(rules({ tool: 'x', decision: 'ask', when: { arg: { name: 'to' } } }))).toEqual([
      { path: 'rules.0.when.arg', message: 'give exactly one of outside_domains, inside_domains, equals' },
    ]);
    expect(issuesOf(rules({ tool: 'x', decision: 'ask', when: { arg: { name: 'to', equals: [{ a: 1 }] } } }))).toEqual([
      { path: 'rules.0.when.arg.equals.0', message: 'expected a string, a number or a boolean' },
    ]);
  });

  it('refuses two rules with one id, since verdicts name rules by it', () => {
    expect(issuesOf(rules({ id: 'a', tool: 'x', decision: 'ask' }, { id: 'a', tool: 'y', decision: 'ask' }))).toEqual([
      { path: 'rules.1.id', message: 'rule 1 has the id "a" already' },
    ]);
  });

  it('refuses what is not a policy object', () => {
    expect(issuesOf([])[0]).toMatchObject({ path: '' });
    expect(issuesOf(null)[0]).toMatchObject({ path: '' });
    expect(issuesOf({})).toEqual([{ path: 'rules', message: 'Invalid input: expected array, received undefined' }]);
  });

  it('says everything wrong in the message too', () => {
    expect(() => parseTenantPolicy(rules({ tool: 5, decision: 'x' }))).toThrow(
      'Invalid tool policy: rules.0.tool: expected a glob or a list of globs; rules.0.decision: decision is allow, deny, ask',
    );
  });
});

describe('parseOperatorPolicy', () => {
  it('is empty when blank', () => {
    expect(parseOperatorPolicy(undefined)).toEqual([]);
    expect(parseOperatorPolicy('  ')).toEqual([]);
  });

  it('accepts tenants, enforce and arg.matches', () => {
    const policy = rules(
      { tool: 'run_python', decision: 'deny', tenants: ['acme', 'beta.co'], enforce: true },
      { tool: 'send_email', when: { arg: { name: 'subject', matches: '^\\[secret\\]' } }, decision: 'deny' },
    );
    expect(parseOperatorPolicy(JSON.stringify(policy))).toEqual(policy.rules);
  });

  it('fails with CONFIG_INVALID naming the setting and the path', () => {
    const notJson = operatorError('{rules: []}');
    expect(notJson.code).toBe('CONFIG_INVALID');
    expect(notJson.message).toMatch(/^AGENTIC_TOOL_POLICY: not valid JSON/);
    const bad = operatorError(JSON.stringify(rules({ tool: 'x', decision: 'deny', tenants: ['no spaces'] })));
    expect(bad.code).toBe('CONFIG_INVALID');
    expect(bad.message).toBe('AGENTIC_TOOL_POLICY: rules.0.tenants.0: a tenant id is 1-64 letters, digits, . _ or -');
    const regex = operatorError(JSON.stringify(rules({ tool: 'x', decision: 'deny', when: { arg: { name: 'a', matches: '(' } } })));
    expect(regex.message).toMatch(/^AGENTIC_TOOL_POLICY: rules\.0\.when\.arg\.matches: not a regular expression: /);
    expect(operatorError('[]').message).toBe('AGENTIC_TOOL_POLICY: policy: Invalid input: expected object, received array');
  });
});

describe('labelRules', () => {
  it('labels rules by id, else by their 1-based place', () => {
    const labelled = labelRules([{ tool: 'a', decision: 'allow' }, { id: 'mail', tool: 'b', decision: 'ask' }, { tool: 'c', decision: 'deny' }], 'tenant', 'tenant');
    expect(labelled.map((r) => r.label)).toEqual(['tenant#1', 'mail', 'tenant#3']);
    expect(labelled.every((r) => r.source === 'tenant')).toBe(true);
  });
});
