/**
 * Which tool calls need a human's approval. Rules (AGENTIC_APPROVAL_RULES, a JSON array) are tried in
 * order; the first whose `tool` matches decides. A tool no rule names needs approval when it has side
 * effects, and not otherwise.
 *
 *   [{"tool": "send_email", "when": {"arg": "to", "outside_domains": ["example.com"]}},
 *    {"tool": "files__*", "when": "never"},
 *    {"tool": "fetch_url", "when": "always"}]
 *
 * `when` is `always`, `never`, or a condition on one argument (a string, or an array of strings):
 * `outside_domains` (an address whose domain is not listed), `inside_domains` (one that is),
 * `matches` (a regular expression that matches one of the values).
 */
import { z } from 'zod';
import { AppError } from '../errors.js';
import type { ToolEffect } from './types.js';

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

const rule = z.object({ tool: z.string().min(1), when: z.union([z.literal('always'), z.literal('never'), condition]) }).strict();

export type ApprovalRule = z.infer<typeof rule>;

export interface ApprovalPolicy {
  rules: ApprovalRule[];
  /** How long a request waits for a decision, ms. */
  ttlMs: number;
  /** What an expired request becomes. */
  defaultDecision: 'approve' | 'reject';
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
  const parsed = z.array(rule).safeParse(json);
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

/** Why this call needs approval (the rule, in words), or null when it may run. */
export function approvalReason(policy: Pick<ApprovalPolicy, 'rules'>, tool: string, effect: ToolEffect, args: unknown): string | null {
  const r = policy.rules.find((x) => toolMatches(x.tool, tool));
  if (!r) return effect === 'side_effect' ? `${tool} has side effects` : null;
  if (r.when === 'always') return `rule: ${r.tool} always`;
  if (r.when === 'never') return null;
  const values = argValues(args, r.when.arg);
  const c = r.when;
  if (c.outside_domains) {
    const outside = values.filter((v) => !inDomains(v, c.outside_domains!));
    return outside.length ? `rule: ${r.tool} ${c.arg} outside ${c.outside_domains.join(', ')} (${outside.join(', ')})` : null;
  }
  if (c.inside_domains) {
    const inside = values.filter((v) => inDomains(v, c.inside_domains!));
    return inside.length ? `rule: ${r.tool} ${c.arg} inside ${c.inside_domains.join(', ')} (${inside.join(', ')})` : null;
  }
  const re = new RegExp(c.matches!);
  return values.some((v) => re.test(v)) ? `rule: ${r.tool} ${c.arg} matches ${c.matches}` : null;
}

/** Whether calls of a tool need approval: always, never, or depending on their arguments (for GET /v1/tools). */
export function approvalMode(policy: Pick<ApprovalPolicy, 'rules'>, tool: string, effect: ToolEffect): 'always' | 'never' | 'depends_on_args' {
  const r = policy.rules.find((x) => toolMatches(x.tool, tool));
  if (!r) return effect === 'side_effect' ? 'always' : 'never';
  return typeof r.when === 'string' ? r.when : 'depends_on_args';
}

function toolMatches(pattern: string, tool: string): boolean {
  return pattern.endsWith('*') ? tool.startsWith(pattern.slice(0, -1)) : pattern === tool;
}

function argValues(args: unknown, name: string): string[] {
  const v = args && typeof args === 'object' ? (args as Record<string, unknown>)[name] : undefined;
  return (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]).map(String);
}

/** `a@b.example.com` is inside `example.com` and `b.example.com`; `Name <a@x.org>` is read as `a@x.org`. */
function inDomains(address: string, domains: string[]): boolean {
  const bare = /<([^>]+)>/.exec(address)?.[1] ?? address;
  const domain = bare.slice(bare.lastIndexOf('@') + 1).trim().toLowerCase();
  return domains.some((d) => {
    const want = d.toLowerCase().replace(/^@/, '');
    return domain === want || domain.endsWith(`.${want}`);
  });
}
