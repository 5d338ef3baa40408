/**
 * The tool policy language: rules that decide every tool use, `allow`, `deny` or `ask` (a person's
 * approval). A tenant admin writes a policy for the tenant (`{"rules": [...]}`); the operator writes
 * one for the service (AGENTIC_TOOL_POLICY), which may also name the tenants a rule applies to and
 * `enforce` rules tenants cannot loosen. Rules are tried in order and the first that matches decides
 * (src/policy/evaluate.ts). This module holds the types, the schemas and the parsing.
 *
 *   {"rules": [
 *     {"tool": "send_email", "when": {"recipients": {"outside": ["example.com"]}}, "decision": "ask",
 *      "reason": "mail leaving the company is read first"},
 *     {"tool": ["run_*", "sql_query"], "agents": ["writer"], "decision": "deny"},
 *     {"tool": "*", "except": ["files__*"], "via": "direct", "roles": ["viewer"], "decision": "deny"}
 *   ]}
 */
import { z } from 'zod';
import { agentNames } from '../agents/index.js';
import { ROLES, TENANT_PATTERN, type Role } from '../auth/principal.js';
import { AppError } from '../errors.js';
import type { ToolEffect } from '../tools/types.js';

export const POLICY_DECISIONS = ['allow', 'deny', 'ask'] as const;
/** `ask`: the call waits for a person's approval. */
export type PolicyDecision = (typeof POLICY_DECISIONS)[number];

export const CALL_VIAS = ['task', 'direct'] as const;
/** `task`: an agent's call inside a task; `direct`: POST /v1/tools/{name}/invoke. */
export type CallVia = (typeof CALL_VIAS)[number];

export const TOOL_EFFECTS = ['read_only', 'idempotent', 'side_effect'] as const satisfies readonly ToolEffect[];

/** Bounds of a policy, so that deciding a call stays cheap and a policy stays readable. */
export const POLICY_LIMITS = Object.freeze({
  rules: 200,
  /** Characters of any string. */
  chars: 500,
  /** Entries of any list. */
  entries: 100,
});

/** E-mail domains or URL hosts; a subdomain counts as inside its domain. */
export type DomainScope = { outside: string[] } | { inside: string[] };

/** SQL sources by name (`files` is the task's uploads). */
export type SourceScope = { in: string[] } | { not_in: string[] };

/**
 * One top-level argument (a string or a list of strings). `matches` (a RegExp source) is for the
 * operator only: a regular expression a tenant wrote could take the service down (ReDoS).
 */
export type ArgCondition = { name: string } & (
  | { outside_domains: string[] }
  | { inside_domains: string[] }
  | { matches: string }
  | { equals: Array<string | number | boolean> }
);

/** Conditions on the call's arguments; every condition given must hold. */
export interface Condition {
  /** Addresses in `to`, `cc`, `bcc`, `reply_to`, `replyTo`, `reply-to`. */
  recipients?: DomainScope;
  /** Hosts of the http(s)/ws(s) URLs anywhere in the arguments. */
  url_hosts?: DomainScope;
  /** `args.source`, `files` when absent. */
  sql_sources?: SourceScope;
  arg?: ArgCondition;
}

export interface PolicyRule {
  /** Names the rule in verdicts; else it is labelled by its place, e.g. `tenant#2`. */
  id?: string;
  /** Globs on the registry tool name: `*` any run of characters, `?` one; anchored, case-sensitive. */
  tool: string | string[];
  /** Globs the rule does not cover. */
  except?: string[];
  decision: PolicyDecision;
  /** Absent: both. */
  via?: CallVia | CallVia[];
  /** The calling agent; a direct call has no agent and never matches a rule with `agents`. */
  agents?: string[];
  /** Matches when the principal holds any of them (in a task: the task creator's roles). */
  roles?: Role[];
  /** The tool's declared effect. */
  effects?: ToolEffect[];
  when?: Condition;
  /** Shown to the approver, or to the model when the call is denied. */
  reason?: string;
  /** Operator policy only: the tenants the rule applies to; absent: all. */
  tenants?: string[];
  /** Operator policy only: tried before the tenant's own rules, a floor tenants cannot loosen. */
  enforce?: boolean;
}

/** Where a rule comes from: the operator's settings, the tenant's policy, or the service's built-in defaults. */
export type RuleSource = 'operator' | 'tenant' | 'default';

/** A rule with the name verdicts give it. */
export interface LabelledRule {
  label: string;
  source: RuleSource;
  rule: PolicyRule;
}

/** One problem of a policy: where (`rules.3.when.recipients`) and what. */
export interface PolicyIssue {
  path: string;
  message: string;
}

/** Labels rules by id, else by their 1-based place: `tenant#2`, `operator#5`. */
export function labelRules(rules: readonly PolicyRule[], prefix: string, source: RuleSource): LabelledRule[] {
  return rules.map((rule, i) => ({ label: rule.id ?? `${prefix}#${i + 1}`, source, rule }));
}

/** Who wrote a policy: what a tenant may write is a subset of what the operator may. */
type Author = 'tenant' | 'operator';

const ID = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Registry names are `[a-z][a-z0-9_]*`; the rest of these characters let globs stay readable and typos show. */
const GLOB = /^[A-Za-z0-9_.:*?-]*$/;
const DOMAIN = /^@?[\p{L}\p{N}_.-]+$/u;
const HOST = /^(?:[\p{L}\p{N}_.-]+|\[?[0-9A-Fa-f:.]+\]?)$/u;

const text = z.string().max(POLICY_LIMITS.chars, `at most ${POLICY_LIMITS.chars} characters`);

function list<T extends z.ZodType>(item: T) {
  return z
    .array(item)
    .min(1, 'give at least one entry')
    .max(POLICY_LIMITS.entries, `at most ${POLICY_LIMITS.entries} entries`);
}

const glob = text.min(1, 'a glob is not empty').regex(GLOB, 'a glob is letters, digits, _ . : - and the wildcards * and ?');
const globs = z.union([glob, list(glob)], { error: 'expected a glob or a list of globs' });
const domain = text.min(1).regex(DOMAIN, 'expected a domain, like example.com');
const host = text.min(1).regex(HOST, 'expected a host name or an IP address, like example.com or 10.0.0.1');
const via = z.enum(CALL_VIAS, { error: `via is ${CALL_VIAS.join(' or ')}` });
const role = z.enum(ROLES, { error: `roles are ${ROLES.join(', ')}` });
const effect = z.enum(TOOL_EFFECTS, { error: `effects are ${TOOL_EFFECTS.join(', ')}` });
const agent = z.string().refine((name) => agentNames().includes(name), { error: `agents are ${agentNames().join(', ')}` });
const tenant = z.string().regex(TENANT_PATTERN, 'a tenant id is 1-64 letters, digits, . _ or -');
const regexSource = text.min(1).superRefine((source, ctx) => {
  try {
    new RegExp(source);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a regular expression: ${(err as Error).message}` });
  }
});

/** A key the tenant's policy refuses with a message that says why, rather than "unknown key". */
function operatorOnly(what: string) {
  return z.never({ error: `${what} is allowed only in the operator's policy (AGENTIC_TOOL_POLICY)` }).optional();
}

function exactlyOne<K extends string>(keys: readonly K[]) {
  return {
    check: (o: Partial<Record<K, unknown>>) => keys.filter((k) => o[k] !== undefined).length === 1,
    message: `give exactly one of ${keys.join(', ')}`,
  };
}

function domainScope(entry: z.ZodType<string>) {
  const one = exactlyOne(['outside', 'inside']);
  return z
    .strictObject({ outside: list(entry).optional(), inside: list(entry).optional() })
    .refine(one.check, one.message)
    .transform((s): DomainScope => (s.outside ? { outside: s.outside } : { inside: s.inside ?? [] }));
}

function sourceScope() {
  const one = exactlyOne(['in', 'not_in']);
  return z
    .strictObject({ in: list(text.min(1)).optional(), not_in: list(text.min(1)).optional() })
    .refine(one.check, one.message)
    .transform((s): SourceScope => (s.in ? { in: s.in } : { not_in: s.not_in ?? [] }));
}

function argCondition(author: Author) {
  const kinds = author === 'operator' ? (['outside_domains', 'inside_domains', 'matches', 'equals'] as const) : (['outside_domains', 'inside_domains', 'equals'] as const);
  const one = exactlyOne<string>(kinds);
  return z
    .strictObject({
      name: text.min(1, 'name the argument'),
      outside_domains: list(domain).optional(),
      inside_domains: list(domain).optional(),
      matches: author === 'operator' ? regexSource.optional() : operatorOnly('matches (a regular expression)'),
      equals: list(z.union([text, z.number(), z.boolean()], { error: 'expected a string, a number or a boolean' })).optional(),
    })
    .refine(one.check, one.message)
    .transform((c): ArgCondition => {
      if (c.outside_domains) return { name: c.name, outside_domains: c.outside_domains };
      if (c.inside_domains) return { name: c.name, inside_domains: c.inside_domains };
      if (c.matches !== undefined) return { name: c.name, matches: c.matches };
      return { name: c.name, equals: c.equals ?? [] };
    });
}

const CONDITIONS = ['recipients', 'url_hosts', 'sql_sources', 'arg'] as const;

function condition(author: Author) {
  return z
    .strictObject({
      recipients: domainScope(domain).optional(),
      url_hosts: domainScope(host).optional(),
      sql_sources: sourceScope().optional(),
      arg: argCondition(author).optional(),
    })
    .refine((c) => CONDITIONS.some((k) => c[k] !== undefined), `give at least one of ${CONDITIONS.join(', ')}`);
}

function rule(author: Author) {
  return z.strictObject({
    id: z.string().regex(ID, 'an id is 1-64 letters, digits, _ . : or -').optional(),
    tool: globs,
    except: z.array(glob).max(POLICY_LIMITS.entries, `at most ${POLICY_LIMITS.entries} entries`).optional(),
    decision: z.enum(POLICY_DECISIONS, { error: `decision is ${POLICY_DECISIONS.join(', ')}` }),
    via: z.union([via, list(via)], { error: `via is ${CALL_VIAS.join(' or ')}, or a list of them` }).optional(),
    agents: list(agent).optional(),
    roles: list(role).optional(),
    effects: list(effect).optional(),
    when: condition(author).optional(),
    reason: text.min(1).optional(),
    tenants: author === 'operator' ? list(tenant).optional() : operatorOnly('tenants'),
    enforce: author === 'operator' ? z.boolean().optional() : operatorOnly('enforce'),
  });
}

function policySchema(author: Author): z.ZodType<{ rules: PolicyRule[] }> {
  return z.strictObject({
    rules: z
      .array(rule(author))
      .max(POLICY_LIMITS.rules, `at most ${POLICY_LIMITS.rules} rules`)
      .superRefine((rules, ctx) => {
        // Verdicts name rules by id: two rules with one id would make them ambiguous.
        const seen = new Map<string, number>();
        rules.forEach((r, i) => {
          if (r.id === undefined) return;
          const first = seen.get(r.id);
          if (first !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `rule ${first + 1} has the id "${r.id}" already` });
          else seen.set(r.id, i);
        });
      }),
  });
}

/** A tenant's policy, `{"rules": [...]}`; also the request body of the API that sets it. */
export const tenantPolicySchema = policySchema('tenant');
/** The operator's policy (AGENTIC_TOOL_POLICY): also `tenants`, `enforce` and `arg.matches`. */
export const operatorPolicySchema = policySchema('operator');

/**
 * Parses a tenant's policy. Throws VALIDATION_ERROR with `details.issues` (`[{path, message}]`,
 * paths like `rules.3.when.recipients`).
 */
export function parseTenantPolicy(json: unknown): PolicyRule[] {
  const parsed = tenantPolicySchema.safeParse(json);
  if (parsed.success) return parsed.data.rules;
  const issues = policyIssues(parsed.error);
  throw new AppError('VALIDATION_ERROR', `Invalid tool policy: ${describe(issues)}`, { details: { issues } });
}

/** Parses AGENTIC_TOOL_POLICY; blank means no rules. Throws CONFIG_INVALID naming what is wrong. */
export function parseOperatorPolicy(text: string | undefined): PolicyRule[] {
  if (!text?.trim()) return [];
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new AppError('CONFIG_INVALID', `AGENTIC_TOOL_POLICY: not valid JSON (${(err as Error).message})`);
  }
  const parsed = operatorPolicySchema.safeParse(json);
  if (parsed.success) return parsed.data.rules;
  const issues = policyIssues(parsed.error);
  throw new AppError('CONFIG_INVALID', `AGENTIC_TOOL_POLICY: ${describe(issues)}`, { details: { issues } });
}

/** At most this many issues are reported; the first ones are enough to fix a policy. */
const MAX_ISSUES = 20;

/** zod's issues as `{path, message}`, one per unknown key, and the branch of a union the input was meant for. */
export function policyIssues(error: z.ZodError): PolicyIssue[] {
  return error.issues.flatMap((issue) => flatten(issue, [])).slice(0, MAX_ISSUES);
}

function flatten(issue: z.core.$ZodIssue, base: readonly PropertyKey[]): PolicyIssue[] {
  const path = [...base, ...issue.path];
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ path: pathText([...path, key]), message: 'unknown key' }));
  if (issue.code === 'invalid_union') {
    // A branch whose type fits the input (a list for a list) says more than "invalid input".
    const fitting = issue.errors.filter((branch) => !branch.some((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value')));
    if (fitting.length === 1) return fitting[0]!.flatMap((i) => flatten(i, path));
  }
  return [{ path: pathText(path), message: issue.message }];
}

function pathText(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}

function describe(issues: readonly PolicyIssue[]): string {
  return issues.map((i) => `${i.path || 'policy'}: ${i.message}`).join('; ');
}
