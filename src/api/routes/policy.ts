/**
 * A tenant's tool policy: read it (with the operator's rules around it), replace it (admins; every
 * change a new version, audited), list its versions, and ask what it answers for a call.
 */
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import type { App } from '../../compose.js';
import { AppError } from '../../errors.js';
import { BUILT_IN_RULES, decide, parseTenantPolicy, type LabelledRule } from '../../policy/index.js';
import type { ToolPolicyRecord } from '../../store/types.js';
import { audit } from '../audit.js';
import { tenantOf } from '../context.js';
import { checkPolicyBody, pageQuery, putPolicyBody } from '../schemas.js';
import { responses, schemaOf } from '../validation.js';

export function policyRoutes(app: App) {
  const policies = app.engine.ctx.policies;
  return async (f: FastifyInstance) => {
    f.get(
      '/v1/policy',
      {
        config: { access: 'read' },
        schema: {
          tags: ['access'],
          summary: 'Your tenant\'s tool policy, with the operator\'s rules tried before and after it',
          description: 'Rules are tried in order: `operator.enforced`, `rules` (yours), `operator.defaults`, then `built_in`; the first that matches decides (docs/security.md#the-tool-policy).',
          response: responses(200, '`{tenant, version, rules, updated_at, updated_by, operator, built_in}`'),
        },
      },
      async (request) => {
        const tenantId = tenantOf(request);
        const { enforced, defaults } = policies.operator.rulesFor(tenantId);
        return {
          ...policyView(tenantId, await app.store.getToolPolicy(tenantId)),
          operator: { enforced: enforced.map(labelled), defaults: defaults.map(labelled) },
          built_in: BUILT_IN_RULES.map(labelled),
        };
      },
    );

    f.put<{ Body: z.infer<typeof putPolicyBody> }>(
      '/v1/policy',
      {
        config: { access: 'admin' },
        schema: {
          tags: ['access'],
          summary: 'Replace your tenant\'s tool policy (a new version)',
          description:
            'Send `expected_version` (the version you read; 0 when there was none) to refuse the change if someone changed the policy meanwhile (409 POLICY_VERSION_CONFLICT). ' +
            'An invalid rule is a 400 naming it (`details.issues[].path`, e.g. `rules.2.when.recipients`).',
          body: schemaOf(putPolicyBody),
          response: responses(200, 'The policy now in force'),
        },
      },
      async (request) => {
        const tenantId = tenantOf(request);
        const rules = parseTenantPolicy({ rules: request.body.rules });
        const stored = await app.store.putToolPolicy({ tenantId, rules, createdBy: request.principal.id, expectedVersion: request.body.expected_version });
        policies.invalidate(tenantId);
        await audit(app, request, 'policy.changed', { type: 'policy', id: `${tenantId}@${stored.version}` }, { version: stored.version, rules: rules.length });
        return policyView(tenantId, stored);
      },
    );

    f.get<{ Querystring: z.infer<typeof pageQuery> }>(
      '/v1/policy/versions',
      { config: { access: 'admin' }, schema: { tags: ['access'], summary: 'Earlier versions of your tenant\'s tool policy, newest first', querystring: schemaOf(pageQuery), response: responses(200, '`{items, next_cursor}`') } },
      async (request) => {
        const tenantId = tenantOf(request);
        const page = await app.store.listToolPolicies({ tenantId, limit: request.query.limit, cursor: request.query.cursor });
        return { items: page.items.map((p) => policyView(tenantId, p)), next_cursor: page.next_cursor };
      },
    );

    f.post<{ Body: z.infer<typeof checkPolicyBody> }>(
      '/v1/policy/check',
      {
        config: { access: 'read' },
        schema: {
          tags: ['access'],
          summary: 'What the tool policy answers for a call, and which rule decides',
          description: 'With `rules`, the answer of those rules in place of your policy in force (to try a change before saving it). `roles` default to yours.',
          body: schemaOf(checkPolicyBody),
          response: responses(200, '`{decision, rule, source, version, reason}`'),
        },
      },
      async (request) => {
        const tenantId = tenantOf(request);
        const b = request.body;
        if (!app.tools.has(b.tool, tenantId)) throw new AppError('TOOL_NOT_FOUND', `No tool named "${b.tool}"`, { details: { tool: b.tool } });
        const call = {
          tenantId,
          tool: b.tool,
          effect: app.tools.get(b.tool).effect,
          args: b.args ?? {},
          via: b.via,
          agent: b.via === 'direct' ? null : (b.agent ?? null),
          roles: b.roles ?? request.principal.roles,
        };
        if (b.rules === undefined) return policies.decide(call);
        return decide(policies.operator, { version: 0, rules: parseTenantPolicy({ rules: b.rules }) }, call);
      },
    );
  };
}

function policyView(tenantId: string, p: ToolPolicyRecord | null) {
  return { tenant: tenantId, version: p?.version ?? 0, rules: p?.rules ?? [], updated_at: p?.created_at ?? null, updated_by: p?.created_by ?? null };
}

function labelled(r: LabelledRule) {
  return { label: r.label, ...r.rule };
}
