/**
 * Deciding a tool use. Rules are tried in this order, and the first that matches decides:
 *
 * 1. the operator's enforced rules (AGENTIC_TOOL_POLICY, `enforce`): a floor no tenant can loosen;
 * 2. the tenant's own policy;
 * 3. the operator's defaults: AGENTIC_TOOL_POLICY, then AGENTIC_TOOL_INVOKERS, AGENTIC_APPROVAL_RULES
 *    and the MCP servers' `approval` (src/policy/operator.ts);
 * 4. the built-in defaults: no direct call of a tool that changes the world, approval for side effects,
 *    and everything else allowed.
 *
 * The verdict names the rule and says why in a sentence the approver (for `ask`) or the model (for
 * `deny`) reads.
 */
import type { Role } from '../auth/principal.js';
import type { ToolEffect } from '../tools/types.js';
import { conditionFacts } from './conditions.js';
import { labelRules, type CallVia, type LabelledRule, type PolicyDecision, type PolicyRule, type RuleSource } from './language.js';
import type { OperatorPolicy } from './operator.js';

/** One tool use to decide. */
export interface ToolCall {
  /** The registry name. */
  tool: string;
  effect: ToolEffect;
  args: unknown;
  via: CallVia;
  /** The calling agent; null for a direct call. */
  agent: string | null;
  /** In a task: the roles of the task's creator; direct: the caller's. */
  roles: readonly Role[];
  tenantId: string;
}

/** A tenant's policy as stored: its rules and the version they were saved as. Not changed once made (its labels are kept per object). */
export interface TenantPolicy {
  version: number;
  rules: PolicyRule[];
}

export interface PolicyVerdict {
  decision: PolicyDecision;
  /** The label of the rule that decided: its id, or `tenant#2`, `operator#1`, `default:allow`, … */
  rule: string;
  source: RuleSource;
  /** The tenant policy's version when a tenant rule decided; else null. */
  version: number | null;
  /** The tool, what made the rule match, and the rule's own reason. */
  reason: string;
}

/** The built-in reason of rules asking for approval of side effects; read as `send_email has side effects`. */
export const SIDE_EFFECTS_REASON = 'has side effects';

/** Why a tool that changes the world is not invoked directly unless a rule allows it. */
export const DIRECT_REASON = 'a tool that changes the world may be invoked directly only when the policy allows it';

/** The service's defaults, tried after every configured rule; the last matches every call. */
export const BUILT_IN_RULES: readonly LabelledRule[] = Object.freeze([
  {
    label: 'default:direct',
    source: 'default',
    rule: { tool: '*', via: 'direct', effects: ['idempotent', 'side_effect'], decision: 'deny', reason: DIRECT_REASON },
  },
  { label: 'default:side-effects', source: 'default', rule: { tool: '*', effects: ['side_effect'], decision: 'ask', reason: SIDE_EFFECTS_REASON } },
  { label: 'default:allow', source: 'default', rule: { tool: '*', decision: 'allow', reason: 'allowed by default' } },
] satisfies LabelledRule[]);

/** Decides one tool use: the first rule that matches, in the order of this module's comment. */
export function decide(operator: OperatorPolicy, tenant: TenantPolicy | null, call: ToolCall): PolicyVerdict {
  for (const entry of rulesInOrder(operator, tenant, call.tenantId)) {
    if (!inScope(entry.rule, call) || !agentMatches(entry.rule, call.agent)) continue;
    const facts = entry.rule.when ? conditionFacts(entry.rule.when, call.args) : [];
    if (facts === null) continue;
    return {
      decision: entry.rule.decision,
      rule: entry.label,
      source: entry.source,
      version: entry.source === 'tenant' && tenant ? tenant.version : null,
      reason: reasonOf(entry, call.tool, facts),
    };
  }
  throw new Error('unreachable: the built-in rules end with one that matches every call');
}

/**
 * What calls of a tool get without their arguments (for listing tools): the decision of the first
 * rule that can match, or `depends` when that rule looks at the arguments or the calling agent.
 */
export function summarize(
  operator: OperatorPolicy,
  tenant: TenantPolicy | null,
  tool: { name: string; effect: ToolEffect },
  ctx: { via: CallVia; roles: readonly Role[]; tenantId: string },
): PolicyDecision | 'depends' {
  const scope = { tool: tool.name, effect: tool.effect, via: ctx.via, roles: ctx.roles, tenantId: ctx.tenantId };
  for (const { rule } of rulesInOrder(operator, tenant, ctx.tenantId)) {
    if (!inScope(rule, scope)) continue;
    // A direct call has no agent: a rule about agents never applies to it.
    if (rule.agents && ctx.via === 'direct') continue;
    return rule.when || rule.agents ? 'depends' : rule.decision;
  }
  throw new Error('unreachable: the built-in rules end with one that matches every call');
}

function* rulesInOrder(operator: OperatorPolicy, tenant: TenantPolicy | null, tenantId: string): Generator<LabelledRule> {
  const { enforced, defaults } = operator.rulesFor(tenantId);
  yield* enforced;
  if (tenant) yield* tenantRules(tenant);
  yield* defaults;
  yield* BUILT_IN_RULES;
}

const labelled = new WeakMap<TenantPolicy, LabelledRule[]>();

/** A tenant's rules labelled `tenant#n` (once per policy object). */
function tenantRules(tenant: TenantPolicy): LabelledRule[] {
  let rules = labelled.get(tenant);
  if (!rules) {
    rules = labelRules(tenant.rules, 'tenant', 'tenant');
    labelled.set(tenant, rules);
  }
  return rules;
}

/** What a rule is matched against before the arguments and the agent. */
interface Scope {
  tool: string;
  effect: ToolEffect;
  via: CallVia;
  roles: readonly Role[];
  tenantId: string;
}

/** Whether a rule covers the call's tool, way, principal, effect and tenant. */
function inScope(rule: PolicyRule, s: Scope): boolean {
  return (
    toolMatches(rule, s.tool) &&
    oneOf(rule.via, s.via) &&
    (!rule.roles || rule.roles.some((r) => s.roles.includes(r))) &&
    oneOf(rule.effects, s.effect) &&
    (!rule.tenants || rule.tenants.includes(s.tenantId))
  );
}

function agentMatches(rule: PolicyRule, agent: string | null): boolean {
  return !rule.agents || (agent !== null && rule.agents.includes(agent));
}

function toolMatches(rule: PolicyRule, tool: string): boolean {
  const globs = typeof rule.tool === 'string' ? [rule.tool] : rule.tool;
  return globs.some((g) => globMatch(g, tool)) && !(rule.except ?? []).some((g) => globMatch(g, tool));
}

/** Absent means any. */
function oneOf<T>(allowed: T | readonly T[] | undefined, value: T): boolean {
  if (allowed === undefined) return true;
  return Array.isArray(allowed) ? allowed.includes(value) : allowed === value;
}

/**
 * Whether a glob matches the whole name: `*` any run of characters, `?` one, case-sensitive. Matched
 * without regular expressions, in time proportional to the lengths' product at worst, so a tenant's
 * glob like `*a*a*a*a*b` cannot stall the service.
 */
export function globMatch(glob: string, name: string): boolean {
  let g = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    if (g < glob.length && (glob[g] === '?' || glob[g] === name[n])) {
      g += 1;
      n += 1;
    } else if (g < glob.length && glob[g] === '*') {
      star = g;
      resume = n;
      g += 1;
    } else if (star >= 0) {
      g = star + 1;
      resume += 1;
      n = resume;
    } else return false;
  }
  while (g < glob.length && glob[g] === '*') g += 1;
  return g === glob.length;
}

const DECIDED: Record<PolicyDecision, string> = { allow: 'allowed', deny: 'denied', ask: 'needs approval' };

/**
 * `send_email: recipients outside example.com (bob@evil.test) — <the rule's reason>`; without facts,
 * `<tool>: <the rule's reason>`, or `<tool>: denied by rule tenant#2` when it gives none. Rules asking
 * for side effects read as they always have: `send_email has side effects`.
 */
function reasonOf(entry: LabelledRule, tool: string, facts: readonly string[]): string {
  const text = entry.rule.reason;
  if (facts.length > 0) return `${tool}: ${facts.join(' and ')}${text ? ` — ${text}` : ''}`;
  if (text === SIDE_EFFECTS_REASON) return `${tool} ${text}`;
  return `${tool}: ${text ?? `${DECIDED[entry.rule.decision]} by rule ${entry.label}`}`;
}
