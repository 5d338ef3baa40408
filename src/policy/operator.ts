/**
 * The operator's policy, from the settings: AGENTIC_TOOL_POLICY, and the older settings it grew out
 * of, AGENTIC_TOOL_INVOKERS (who may invoke which tool directly), AGENTIC_APPROVAL_RULES (which calls
 * need approval) and the MCP servers' `approval`. The older settings become rules that decide every
 * call as they did before the policy existed, so a service configured with them behaves the same.
 *
 * For tenant T, the operator's default rules are, in order:
 * 1. AGENTIC_TOOL_POLICY's rules for T without `enforce` (those with it come before the tenant's policy);
 * 2. per AGENTIC_TOOL_INVOKERS key that does not list T (or `*`): direct calls denied;
 * 3. direct calls of tools that change the world denied, except under keys that list T; before the
 *    approval rules, so that `never` does not open direct calls;
 * 4. AGENTIC_APPROVAL_RULES: `always` asks, `never` allows, a condition asks when it holds and allows otherwise;
 * 5. the MCP servers' rules, the same way;
 * 6. per key that lists T: a direct call asks for a side effect, and is allowed otherwise.
 */
import { z } from 'zod';
import { AppError } from '../errors.js';
import { DIRECT_REASON, SIDE_EFFECTS_REASON } from './evaluate.js';
import { labelRules, parseOperatorPolicy, type ArgCondition, type LabelledRule, type PolicyRule } from './language.js';

const condition = z
  .object({
    arg: z.string().min(1),
    outside_domains: z.array(z.string().min(1)).optional(),
    inside_domains: z.array(z.string().min(1)).optional(),
    matches: z.string().optional(),
  })
  .strict()
  .refine((c) => [c.outside_domains, c.inside_domains, c.matches].filter((x) => x !== undefined).length === 1, {
    message: 'a condition names exactly one of outside_domains, inside_domains, matches',
  });

const approvalRule = z.object({ tool: z.string().min(1), when: z.union([z.literal('always'), z.literal('never'), condition]) }).strict();

/** An AGENTIC_APPROVAL_RULES entry: `{"tool": "send_email", "when": "always" | "never" | {"arg", "outside_domains" | "inside_domains" | "matches"}}`. */
export type ApprovalRule = z.infer<typeof approvalRule>;

/** An MCP server's `approval` for one of its tools (`McpConnection.approvalRules`). */
export interface McpApprovalRule {
  tool: string;
  when: 'always' | 'never';
  /** The tenants the server is granted to; absent: every tenant. Others never see the rule. */
  tenants?: readonly string[];
}

/** Parses AGENTIC_APPROVAL_RULES; CONFIG_INVALID names what is wrong. */
export function parseApprovalRules(text: string | undefined): ApprovalRule[] {
  if (!text?.trim()) return [];
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new AppError('CONFIG_INVALID', `AGENTIC_APPROVAL_RULES is not JSON: ${(err as Error).message}`);
  }
  const parsed = z.array(approvalRule).safeParse(json);
  if (!parsed.success) throw new AppError('CONFIG_INVALID', `AGENTIC_APPROVAL_RULES: ${z.prettifyError(parsed.error)}`);
  for (const r of parsed.data) {
    if (typeof r.when === 'object' && r.when.matches !== undefined) {
      try {
        new RegExp(r.when.matches);
      } catch (err) {
        throw new AppError('CONFIG_INVALID', `AGENTIC_APPROVAL_RULES: ${r.tool}: ${(err as Error).message}`);
      }
    }
  }
  return parsed.data;
}

export interface OperatorPolicyInput {
  /** AGENTIC_TOOL_POLICY. */
  toolPolicy?: string;
  /** AGENTIC_APPROVAL_RULES. */
  approvalRules?: string;
  /** AGENTIC_TOOL_INVOKERS, parsed: tool name or `prefix*` → tenant ids (`*`: any). */
  toolInvokers: Record<string, string[]>;
  /** The MCP servers' `approval`, one rule per tool. */
  mcpRules: McpApprovalRule[];
}

/** The operator's rules for one tenant: those tried before the tenant's policy, and those after. */
export interface OperatorRules {
  enforced: readonly LabelledRule[];
  defaults: readonly LabelledRule[];
}

export interface OperatorPolicy {
  rulesFor(tenantId: string): OperatorRules;
}

/** Tenants whose rules are kept; past it the oldest are built again when asked for. */
const CACHED_TENANTS = 10_000;

/** Parses the settings once (CONFIG_INVALID on errors); a tenant's rules are built on first use and kept. */
export function createOperatorPolicy(input: OperatorPolicyInput): OperatorPolicy {
  const policy = labelRules(parseOperatorPolicy(input.toolPolicy), 'operator', 'operator');
  const approvals = parseApprovalRules(input.approvalRules).flatMap((r, i) => fromApprovalRule(r, `AGENTIC_APPROVAL_RULES#${i + 1}`));
  const mcp = input.mcpRules.map((r) => ({ tenants: r.tenants, rules: fromApprovalRule(r, `mcp:${r.tool}`) }));
  const invokers = invokerKeys(input.toolInvokers);
  const cache = new Map<string, OperatorRules>();
  const build = (tenantId: string): OperatorRules => {
    const forTenant = policy.filter(({ rule }) => !rule.tenants || rule.tenants.includes(tenantId));
    const mcpForTenant = mcp.filter((m) => !m.tenants || m.tenants.includes(tenantId)).flatMap((m) => m.rules);
    // Needed only where a later rule could allow a direct call the built-in default would deny.
    const guardDirect = invokers.length > 0 || approvals.length > 0 || mcpForTenant.length > 0;
    return freeze({
      enforced: forTenant.filter(({ rule }) => rule.enforce),
      defaults: [
        ...forTenant.filter(({ rule }) => !rule.enforce),
        ...invokerDenials(invokers, tenantId),
        ...(guardDirect ? [directDefault(invokers, tenantId)] : []),
        ...approvals,
        ...mcpForTenant,
        ...invokerGrants(invokers, tenantId),
      ],
    });
  };
  return {
    rulesFor(tenantId) {
      let rules = cache.get(tenantId);
      if (!rules) {
        if (cache.size >= CACHED_TENANTS) cache.delete(cache.keys().next().value!);
        rules = build(tenantId);
        cache.set(tenantId, rules);
      }
      return rules;
    },
  };
}

function freeze(rules: OperatorRules): OperatorRules {
  return Object.freeze({ enforced: Object.freeze(rules.enforced), defaults: Object.freeze(rules.defaults) });
}

/**
 * A legacy pattern (a name, or a prefix ending in `*`) as a glob. Registry names are `[a-z0-9_]`, so a
 * pattern with `?` or a `*` before its end never matched a tool: it gets no glob, and no rule.
 */
export function legacyGlob(pattern: string): string | null {
  const stem = pattern.endsWith('*') ? pattern.slice(0, -1) : pattern;
  return /[*?]/.test(stem) ? null : pattern;
}

/** An approval rule as policy rules: `always` asks, `never` allows, a condition asks when it holds and allows otherwise. */
function fromApprovalRule(r: ApprovalRule | McpApprovalRule, label: string): LabelledRule[] {
  const tool = legacyGlob(r.tool);
  if (tool === null) return [];
  const rules: PolicyRule[] =
    r.when === 'always'
      ? [{ tool, decision: 'ask', reason: alwaysReason(r.tool, label) }]
      : r.when === 'never'
        ? [{ tool, decision: 'allow' }]
        : [
            { tool, when: { arg: argCondition(r.when) }, decision: 'ask' },
            { tool, decision: 'allow' },
          ];
  return rules.map((rule) => ({ label, source: 'operator', rule }));
}

function alwaysReason(pattern: string, label: string): string {
  return label.startsWith('mcp:') ? `the MCP server's approval setting is always` : `rule ${pattern} always`;
}

function argCondition(c: Exclude<ApprovalRule['when'], string>): ArgCondition {
  if (c.outside_domains) return { name: c.arg, outside_domains: c.outside_domains };
  if (c.inside_domains) return { name: c.arg, inside_domains: c.inside_domains };
  return { name: c.arg, matches: c.matches ?? '' };
}

/** An AGENTIC_TOOL_INVOKERS key as a glob, with the tenants it lists and the globs of the keys before it. */
interface InvokerKey {
  key: string;
  glob: string;
  tenants: string[];
  earlier: string[];
}

function invokerKeys(invokers: Record<string, string[]>): InvokerKey[] {
  const keys: InvokerKey[] = [];
  for (const [key, tenants] of Object.entries(invokers)) {
    const glob = legacyGlob(key);
    if (glob === null) continue;
    keys.push({ key, glob, tenants, earlier: keys.map((k) => k.glob) });
  }
  return keys;
}

function permits(k: InvokerKey, tenantId: string): boolean {
  return k.tenants.includes('*') || k.tenants.includes(tenantId);
}

/**
 * Direct calls under keys that do not list the tenant, denied. The first key naming a tool decided
 * it, so each rule leaves out the tools an earlier key names.
 */
function invokerDenials(keys: readonly InvokerKey[], tenantId: string): LabelledRule[] {
  return keys
    .filter((k) => !permits(k, tenantId))
    .map((k) => ({
      label: `AGENTIC_TOOL_INVOKERS:${k.key}`,
      source: 'operator',
      rule: {
        tool: k.glob,
        ...(k.earlier.length ? { except: k.earlier } : {}),
        via: 'direct',
        decision: 'deny',
        reason: `tenant ${tenantId} may not invoke ${k.key} directly (AGENTIC_TOOL_INVOKERS)`,
      },
    }));
}

/** Direct calls of tools that change the world, denied unless a key lists the tenant. */
function directDefault(keys: readonly InvokerKey[], tenantId: string): LabelledRule {
  const open = keys.filter((k) => permits(k, tenantId)).map((k) => k.glob);
  return {
    // The built-in default, tried before the legacy rules so that none of them opens a direct call.
    label: 'default:direct',
    source: 'default',
    rule: { tool: '*', ...(open.length ? { except: open } : {}), via: 'direct', effects: ['idempotent', 'side_effect'], decision: 'deny', reason: DIRECT_REASON },
  };
}

/** Direct calls under keys that list the tenant: a side effect asks, anything else is allowed. */
function invokerGrants(keys: readonly InvokerKey[], tenantId: string): LabelledRule[] {
  return keys
    .filter((k) => permits(k, tenantId))
    .flatMap((k): LabelledRule[] => [
      { label: `AGENTIC_TOOL_INVOKERS:${k.key}`, source: 'operator', rule: { tool: k.glob, via: 'direct', effects: ['side_effect'], decision: 'ask', reason: SIDE_EFFECTS_REASON } },
      { label: `AGENTIC_TOOL_INVOKERS:${k.key}`, source: 'operator', rule: { tool: k.glob, via: 'direct', decision: 'allow' } },
    ]);
}
