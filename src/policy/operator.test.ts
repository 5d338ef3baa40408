import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import type { ToolEffect } from '../tools/types.js';
import { decide, type ToolCall } from './evaluate.js';
import { createOperatorPolicy, legacyGlob, parseApprovalRules, type ApprovalRule, type McpApprovalRule, type OperatorPolicyInput } from './operator.js';

function operator(input: Partial<OperatorPolicyInput> = {}) {
  return createOperatorPolicy({ toolInvokers: {}, mcpRules: [], ...input });
}

function call(over: Partial<ToolCall> = {}): ToolCall {
  return { tool: 'send_email', effect: 'side_effect', args: {}, via: 'task', agent: 'writer', roles: ['member'], tenantId: 'acme', ...over };
}

function direct(over: Partial<ToolCall> = {}): ToolCall {
  return call({ via: 'direct', agent: null, ...over });
}

/** `decision label` of a call under the legacy settings alone. */
function outcome(input: Partial<OperatorPolicyInput>, c: ToolCall): string {
  const v = decide(operator(input), null, c);
  return `${v.decision} ${v.rule}`;
}

const rules = (r: unknown[]) => JSON.stringify(r);

/**
 * What the service decided before the policy existed: a direct call the tenant may not make
 * (`mayInvoke` of src/engine/direct-calls.ts) was refused; otherwise a call needed approval when
 * `approvalReason` of src/tools/approval-policy.ts gave a reason. Copied here as the oracle.
 */
function legacyDecision(invokers: Record<string, string[]>, approvals: Array<ApprovalRule | McpApprovalRule>, c: ToolCall): 'allow' | 'deny' | 'ask' {
  const toolMatches = (pattern: string, tool: string) => (pattern.endsWith('*') ? tool.startsWith(pattern.slice(0, -1)) : pattern === tool);
  if (c.via === 'direct') {
    const key = Object.keys(invokers).find((k) => toolMatches(k, c.tool));
    const may = key === undefined ? c.effect === 'read_only' : invokers[key]!.includes('*') || invokers[key]!.includes(c.tenantId);
    if (!may) return 'deny';
  }
  const r = approvals.find((x) => toolMatches(x.tool, c.tool));
  if (!r) return c.effect === 'side_effect' ? 'ask' : 'allow';
  if (r.when === 'always') return 'ask';
  if (r.when === 'never') return 'allow';
  const w = r.when;
  const v = c.args && typeof c.args === 'object' ? (c.args as Record<string, unknown>)[w.arg] : undefined;
  const values = (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]).map(String);
  const inDomains = (address: string, domains: string[]) => {
    const bare = /<([^>]+)>/.exec(address)?.[1] ?? address;
    const domain = bare.slice(bare.lastIndexOf('@') + 1).trim().toLowerCase();
    return domains.some((d) => domain === d.toLowerCase().replace(/^@/, '') || domain.endsWith(`.${d.toLowerCase().replace(/^@/, '')}`));
  };
  if (w.outside_domains) return values.some((x) => !inDomains(x, w.outside_domains!)) ? 'ask' : 'allow';
  if (w.inside_domains) return values.some((x) => inDomains(x, w.inside_domains!)) ? 'ask' : 'allow';
  return values.some((x) => new RegExp(w.matches!).test(x)) ? 'ask' : 'allow';
}

describe('the legacy settings, as policy rules', () => {
  it('AGENTIC_TOOL_INVOKERS: a tenant it lists may invoke the tool directly (with approval for a side effect); others may not', () => {
    const toolInvokers = { send_email: ['ops'] };
    expect(outcome({ toolInvokers }, direct({ tenantId: 'ops' }))).toBe('ask AGENTIC_TOOL_INVOKERS:send_email');
    expect(outcome({ toolInvokers }, direct({ tenantId: 'acme' }))).toBe('deny AGENTIC_TOOL_INVOKERS:send_email');
    expect(decide(operator({ toolInvokers }), null, direct({ tenantId: 'ops' })).reason).toBe('send_email has side effects');
    expect(decide(operator({ toolInvokers }), null, direct({ tenantId: 'acme' })).reason).toBe(
      'send_email: tenant acme may not invoke send_email directly (AGENTIC_TOOL_INVOKERS)',
    );
    // In a task, the setting says nothing.
    expect(outcome({ toolInvokers }, call({ tenantId: 'acme' }))).toBe('ask default:side-effects');
  });

  it('AGENTIC_TOOL_INVOKERS: `*` lists every tenant; a prefix key covers its tools; an idempotent tool it opens runs unasked', () => {
    const toolInvokers = { 'files__*': ['*'] };
    expect(outcome({ toolInvokers }, direct({ tool: 'files__write', effect: 'idempotent' }))).toBe('allow AGENTIC_TOOL_INVOKERS:files__*');
    expect(outcome({ toolInvokers }, direct({ tool: 'files__delete', effect: 'side_effect' }))).toBe('ask AGENTIC_TOOL_INVOKERS:files__*');
    expect(outcome({ toolInvokers }, direct({ tool: 'files_other', effect: 'idempotent' }))).toBe('deny default:direct');
  });

  it('AGENTIC_TOOL_INVOKERS: a key that does not list the tenant closes even a read-only tool', () => {
    expect(outcome({ toolInvokers: { calculator: ['ops'] } }, direct({ tool: 'calculator', effect: 'read_only' }))).toBe('deny AGENTIC_TOOL_INVOKERS:calculator');
  });

  it('AGENTIC_TOOL_INVOKERS: the first key naming a tool decides it', () => {
    const open = { files__read: ['*'], 'files__*': ['ops'] };
    expect(outcome({ toolInvokers: open }, direct({ tool: 'files__read', effect: 'read_only' }))).toBe('allow AGENTIC_TOOL_INVOKERS:files__read');
    expect(outcome({ toolInvokers: open }, direct({ tool: 'files__list', effect: 'read_only' }))).toBe('deny AGENTIC_TOOL_INVOKERS:files__*');
    const closed = { 'files__*': ['ops'], files__read: ['*'] };
    expect(outcome({ toolInvokers: closed }, direct({ tool: 'files__read', effect: 'read_only' }))).toBe('deny AGENTIC_TOOL_INVOKERS:files__*');
  });

  it('read-only tools are directly invocable by default; tools that change the world are not', () => {
    expect(outcome({}, direct({ tool: 'calculator', effect: 'read_only' }))).toBe('allow default:allow');
    expect(outcome({}, direct({ tool: 'files__write', effect: 'idempotent' }))).toBe('deny default:direct');
    expect(outcome({}, direct())).toBe('deny default:direct');
  });

  it('an approval rule `never` does not open direct calls for a tenant not permitted', () => {
    const approvalRules = rules([{ tool: 'send_email', when: 'never' }]);
    expect(outcome({ approvalRules }, direct())).toBe('deny default:direct');
    expect(outcome({ approvalRules, toolInvokers: { send_email: ['ops'] } }, direct())).toBe('deny AGENTIC_TOOL_INVOKERS:send_email');
    // For a tenant permitted, it spares the approval, as before; in a task too.
    expect(outcome({ approvalRules, toolInvokers: { send_email: ['acme'] } }, direct())).toBe('allow AGENTIC_APPROVAL_RULES#1');
    expect(outcome({ approvalRules }, call())).toBe('allow AGENTIC_APPROVAL_RULES#1');
  });

  it('AGENTIC_APPROVAL_RULES: `always` asks, also for a read-only tool invoked directly', () => {
    const approvalRules = rules([{ tool: 'fetch_url', when: 'always' }]);
    expect(outcome({ approvalRules }, call({ tool: 'fetch_url', effect: 'read_only' }))).toBe('ask AGENTIC_APPROVAL_RULES#1');
    expect(outcome({ approvalRules }, direct({ tool: 'fetch_url', effect: 'read_only' }))).toBe('ask AGENTIC_APPROVAL_RULES#1');
    expect(decide(operator({ approvalRules }), null, call({ tool: 'fetch_url', effect: 'read_only' })).reason).toBe('fetch_url: rule fetch_url always');
  });

  it('AGENTIC_APPROVAL_RULES: a condition on `to` asks only for outside recipients', () => {
    const approvalRules = rules([{ tool: 'send_email', when: { arg: 'to', outside_domains: ['example.com'] } }]);
    expect(outcome({ approvalRules }, call({ args: { to: ['ops@example.com'] } }))).toBe('allow AGENTIC_APPROVAL_RULES#1');
    expect(outcome({ approvalRules }, call({ args: { to: ['ops@example.com', 'someone@elsewhere.org'] } }))).toBe('ask AGENTIC_APPROVAL_RULES#1');
    expect(decide(operator({ approvalRules }), null, call({ args: { to: ['ops@example.com', 'someone@elsewhere.org'] } })).reason).toBe(
      'send_email: to outside example.com (someone@elsewhere.org)',
    );
    expect(outcome({ approvalRules }, call({ args: { to: [] } }))).toBe('allow AGENTIC_APPROVAL_RULES#1');
  });

  it('AGENTIC_APPROVAL_RULES: the first rule naming a tool decides; a prefix covers its tools', () => {
    const approvalRules = rules([{ tool: 'files__delete', when: 'always' }, { tool: 'files__*', when: 'never' }]);
    expect(outcome({ approvalRules }, call({ tool: 'files__delete' }))).toBe('ask AGENTIC_APPROVAL_RULES#1');
    expect(outcome({ approvalRules }, call({ tool: 'files__move' }))).toBe('allow AGENTIC_APPROVAL_RULES#2');
  });

  it('MCP servers’ approval comes after AGENTIC_APPROVAL_RULES', () => {
    const mcpRules: McpApprovalRule[] = [{ tool: 'files__delete', when: 'never' }, { tool: 'files__read', when: 'always' }];
    expect(outcome({ mcpRules }, call({ tool: 'files__delete' }))).toBe('allow mcp:files__delete');
    expect(outcome({ mcpRules }, call({ tool: 'files__read', effect: 'read_only' }))).toBe('ask mcp:files__read');
    expect(outcome({ mcpRules, approvalRules: rules([{ tool: 'files__delete', when: 'always' }]) }, call({ tool: 'files__delete' }))).toBe('ask AGENTIC_APPROVAL_RULES#1');
    // `never` spares the approval; it does not open direct calls.
    expect(outcome({ mcpRules }, direct({ tool: 'files__delete' }))).toBe('deny default:direct');
    expect(decide(operator({ mcpRules }), null, call({ tool: 'files__read', effect: 'read_only' })).reason).toBe("files__read: the MCP server's approval setting is always");
  });

  it('a legacy pattern that never matched a tool name matches none now', () => {
    expect(legacyGlob('send_email')).toBe('send_email');
    expect(legacyGlob('files__*')).toBe('files__*');
    expect(legacyGlob('*')).toBe('*');
    expect(legacyGlob('send?email')).toBeNull();
    expect(legacyGlob('a*b')).toBeNull();
    expect(outcome({ approvalRules: rules([{ tool: 'send?email', when: 'never' }]) }, call())).toBe('ask default:side-effects');
    expect(outcome({ toolInvokers: { 'send*': ['*'], 's*l': ['nobody'] } }, direct())).toBe('ask AGENTIC_TOOL_INVOKERS:send*');
  });

  it('decides every call as the legacy settings did', () => {
    const tools: Array<[string, ToolEffect]> = [
      ['calculator', 'read_only'],
      ['fetch_url', 'read_only'],
      ['send_email', 'side_effect'],
      ['files__read', 'read_only'],
      ['files__write', 'idempotent'],
      ['files__delete', 'side_effect'],
    ];
    const invokerSets: Array<Record<string, string[]>> = [
      {},
      { send_email: ['ops'] },
      { 'files__*': ['*'], send_email: ['acme'] },
      { files__read: ['ops'], 'files__*': ['acme'], '*': ['ops'] },
      { 'files__*': [], files__write: ['*'], calculator: ['acme'] },
    ];
    const approvalSets: ApprovalRule[][] = [
      [],
      [{ tool: 'send_email', when: { arg: 'to', outside_domains: ['example.com'] } }, { tool: 'fetch_url', when: 'always' }, { tool: 'files__*', when: 'never' }],
      [{ tool: 'send_email', when: 'never' }, { tool: '*', when: 'always' }],
      [{ tool: 'send_email', when: { arg: 'to', inside_domains: ['example.com'] } }, { tool: 'files__read', when: { arg: 'path', matches: '^/secret' } }],
    ];
    const mcpSets: McpApprovalRule[][] = [[], [{ tool: 'files__delete', when: 'never' }, { tool: 'files__read', when: 'always' }]];
    const argSets: unknown[] = [{}, { to: ['ops@example.com'] }, { to: 'Ann <ann@sub.example.com>' }, { to: ['ops@example.com', 'x@evil.test'] }, { path: '/secret/x' }, null];
    let compared = 0;
    for (const toolInvokers of invokerSets) {
      for (const approvals of approvalSets) {
        for (const mcpRules of mcpSets) {
          const op = operator({ toolInvokers, approvalRules: JSON.stringify(approvals), mcpRules });
          for (const [tool, effect] of tools) {
            for (const tenantId of ['acme', 'ops']) {
              for (const args of argSets) {
                for (const c of [call({ tool, effect, tenantId, args }), direct({ tool, effect, tenantId, args })]) {
                  const want = legacyDecision(toolInvokers, [...approvals, ...mcpRules], c);
                  expect(decide(op, null, c).decision, JSON.stringify({ toolInvokers, approvals, mcpRules, c })).toBe(want);
                  compared += 1;
                }
              }
            }
          }
        }
      }
    }
    expect(compared).toBe(5 * 4 * 2 * 6 * 2 * 6 * 2);
  });
});

describe('rulesFor', () => {
  const toolPolicy = JSON.stringify({
    rules: [
      { tool: 'run_python', decision: 'deny', enforce: true },
      { tool: 'web_search', decision: 'ask', tenants: ['acme'] },
      { id: 'beta-fetch', tool: 'fetch_url', decision: 'deny', tenants: ['beta'] },
      { tool: 'sql_query', decision: 'ask', enforce: true, tenants: ['beta'] },
    ],
  });
  const op = operator({
    toolPolicy,
    toolInvokers: { send_email: ['ops'], 'files__*': ['acme', 'ops'] },
    approvalRules: rules([{ tool: 'send_email', when: { arg: 'to', outside_domains: ['example.com'] } }, { tool: 'fetch_url', when: 'always' }]),
    mcpRules: [{ tool: 'files__delete', when: 'never' }],
  });

  it('lists the operator’s rules for a tenant in their order, labelled', () => {
    const { enforced, defaults } = op.rulesFor('acme');
    expect(enforced.map((r) => r.label)).toEqual(['operator#1']);
    expect(defaults.map((r) => `${r.label} ${r.rule.decision}`)).toEqual([
      'operator#2 ask',
      'AGENTIC_TOOL_INVOKERS:send_email deny',
      'default:direct deny',
      'AGENTIC_APPROVAL_RULES#1 ask',
      'AGENTIC_APPROVAL_RULES#1 allow',
      'AGENTIC_APPROVAL_RULES#2 ask',
      'mcp:files__delete allow',
      'AGENTIC_TOOL_INVOKERS:files__* ask',
      'AGENTIC_TOOL_INVOKERS:files__* allow',
    ]);
    expect(defaults[1]!.rule).toEqual({
      tool: 'send_email',
      via: 'direct',
      decision: 'deny',
      reason: 'tenant acme may not invoke send_email directly (AGENTIC_TOOL_INVOKERS)',
    });
    expect(defaults[2]!.rule).toEqual({
      tool: '*',
      except: ['files__*'],
      via: 'direct',
      effects: ['idempotent', 'side_effect'],
      decision: 'deny',
      reason: 'a tool that changes the world may be invoked directly only when the policy allows it',
    });
    expect(defaults[3]!.rule).toEqual({ tool: 'send_email', when: { arg: { name: 'to', outside_domains: ['example.com'] } }, decision: 'ask' });
    expect(defaults.filter((r) => r.label !== 'default:direct').every((r) => r.source === 'operator')).toBe(true);
    expect(defaults[2]!.source).toBe('default');
  });

  it('gives each tenant the rules naming it, labelled by their place in AGENTIC_TOOL_POLICY', () => {
    const { enforced, defaults } = op.rulesFor('beta');
    expect(enforced.map((r) => r.label)).toEqual(['operator#1', 'operator#4']);
    expect(defaults[0]!.label).toBe('beta-fetch');
    expect(defaults.map((r) => r.label)).not.toContain('operator#2');
    const ops = op.rulesFor('ops').defaults;
    expect(ops.filter((r) => r.rule.decision === 'deny').map((r) => r.label)).toEqual(['default:direct']);
    expect(ops.map((r) => r.label).slice(-4)).toEqual(['AGENTIC_TOOL_INVOKERS:send_email', 'AGENTIC_TOOL_INVOKERS:send_email', 'AGENTIC_TOOL_INVOKERS:files__*', 'AGENTIC_TOOL_INVOKERS:files__*']);
  });

  it('builds a tenant’s rules once', () => {
    expect(op.rulesFor('acme')).toBe(op.rulesFor('acme'));
    expect(Object.isFrozen(op.rulesFor('acme').defaults)).toBe(true);
  });
});

describe('createOperatorPolicy', () => {
  it('fails with CONFIG_INVALID on a setting that does not parse', () => {
    expect(() => operator({ toolPolicy: '{"rules": [{"tool": 1, "decision": "allow"}]}' })).toThrow(/^AGENTIC_TOOL_POLICY: rules\.0\.tool/);
    expect(() => operator({ approvalRules: 'nope' })).toThrow(/^AGENTIC_APPROVAL_RULES is not JSON/);
  });
});

describe('parseApprovalRules', () => {
  function error(text: string): AppError {
    try {
      parseApprovalRules(text);
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('CONFIG_INVALID');
      return err as AppError;
    }
    throw new Error('accepted');
  }

  it('reads the rules; blank means none', () => {
    expect(parseApprovalRules(undefined)).toEqual([]);
    expect(parseApprovalRules(' ')).toEqual([]);
    const list = [{ tool: 'send_email', when: { arg: 'to', outside_domains: ['example.com'] } }, { tool: 'files__*', when: 'never' }];
    expect(parseApprovalRules(JSON.stringify(list))).toEqual(list);
  });

  it('says what is wrong, as it always has', () => {
    expect(error('[').message).toMatch(/^AGENTIC_APPROVAL_RULES is not JSON: /);
    expect(error('[{"tool": "x", "when": "sometimes"}]').message).toMatch(/^AGENTIC_APPROVAL_RULES: /);
    expect(error('[{"tool": "x", "when": {"arg": "to"}}]').message).toContain('a condition names exactly one of outside_domains, inside_domains, matches');
    expect(error('[{"tool": "x", "when": {"arg": "to", "matches": "("}}]').message).toMatch(/^AGENTIC_APPROVAL_RULES: x: Invalid regular expression/);
  });
});
