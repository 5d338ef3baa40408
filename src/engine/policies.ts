/**
 * The tool policy in force for each tenant (src/policy): the operator's rules, parsed once, and each
 * tenant's own policy, read from the store and kept for a second. A change made through this
 * process applies at once; one made through another process applies here within that second.
 */
import type { Role } from '../auth/principal.js';
import { AppError } from '../errors.js';
import { decide, parseTenantPolicy, summarize, type CallVia, type OperatorPolicy, type PolicyDecision, type PolicyVerdict, type TenantPolicy, type ToolCall } from '../policy/index.js';
import type { Store } from '../store/types.js';
import type { ToolEffect } from '../tools/types.js';

/** How long a tenant's policy is used before it is read again, ms. */
export const POLICY_CACHE_MS = 1000;


/** What a recorded decision says: the decision and the rule that made it. */
export interface PolicyRef {
  decision: PolicyDecision;
  rule: string;
  source: PolicyVerdict['source'];
  version: number | null;
}

export function policyRef(v: PolicyVerdict): PolicyRef {
  return { decision: v.decision, rule: v.rule, source: v.source, version: v.version };
}

export class ToolPolicies {
  readonly #cache = new Map<string, { policy: Promise<TenantPolicy | null>; until: number }>();

  constructor(
    private readonly store: Store,
    readonly operator: OperatorPolicy,
  ) {}

  /**
   * The tenant's own policy in force, or null when it has none. The read itself is kept, not only its
   * result: the many calls that ask at once while it is not cached (the tools of a listing, the turns of
   * a busy tenant) share one query.
   */
  tenantPolicy(tenantId: string): Promise<TenantPolicy | null> {
    const cached = this.#cache.get(tenantId);
    if (cached && cached.until > Date.now()) return cached.policy;
    const policy = this.#read(tenantId);
    if (this.#cache.size > 10_000) this.#cache.clear();
    const entry = { policy, until: Date.now() + POLICY_CACHE_MS };
    this.#cache.set(tenantId, entry);
    // A read that failed is not kept: the next call asks the store again.
    policy.catch(() => {
      if (this.#cache.get(tenantId) === entry) this.#cache.delete(tenantId);
    });
    return policy;
  }

  async #read(tenantId: string): Promise<TenantPolicy | null> {
    const record = await this.store.getToolPolicy(tenantId);
    // Stored rules were checked when written; a rule this version cannot read fails closed (no call runs).
    return record ? { version: record.version, rules: this.#readable(record.rules, tenantId, record.version) } : null;
  }

  #readable(rules: unknown[], tenantId: string, version: number) {
    try {
      return parseTenantPolicy({ rules });
    } catch (err) {
      throw new AppError('CONFIG_INVALID', `The tool policy of tenant ${tenantId} (version ${version}) cannot be read: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Forgets a tenant's policy after this process changed it. */
  invalidate(tenantId: string): void {
    this.#cache.delete(tenantId);
  }

  async decide(q: ToolCall): Promise<PolicyVerdict> {
    return decide(this.operator, await this.tenantPolicy(q.tenantId), q);
  }

  /** The verdicts of several calls of one tenant, with one lookup of its policy. */
  async decideAll(qs: ToolCall[]): Promise<PolicyVerdict[]> {
    if (qs.length === 0) return [];
    const tenant = await this.tenantPolicy(qs[0]!.tenantId);
    return qs.map((q) => decide(this.operator, tenant, q));
  }

  /** What calls of a tool get, without their arguments: a decision, or `depends`. */
  async summarize(tenantId: string, tool: { name: string; effect: ToolEffect }, via: CallVia, roles: readonly Role[]): Promise<PolicyDecision | 'depends'> {
    return summarize(this.operator, await this.tenantPolicy(tenantId), tool, { via, roles, tenantId });
  }
}
