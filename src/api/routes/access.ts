/**
 * Identity and access: who am I, a tenant's API keys, stream tickets for browsers, the audit log and
 * the tenant's quotas.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import type { App } from '../../compose.js';
import { createApiKey, keyView, parseExpiry, secretHash } from '../../auth/keys.js';
import { covers, permissionsOf, type Principal } from '../../auth/principal.js';
import { AppError } from '../../errors.js';
import { quotasFor } from '../../engine/quotas.js';
import { audit } from '../audit.js';
import { findTask, tenantOf } from '../context.js';
import { auditQuery, createKeyBody, idParams, pageQuery, streamTicketBody } from '../schemas.js';
import { responses, schemaOf } from '../validation.js';

/** How long a stream ticket may wait to be used. */
const TICKET_TTL_MS = 60_000;

export function accessRoutes(app: App) {
  return async (f: FastifyInstance) => {
    f.get(
      '/v1/whoami',
      { config: { access: 'read' }, schema: { tags: ['access'], summary: 'The principal of this request: tenant, roles, permissions, and the service\'s mode', response: responses(200, 'The principal') } },
      async (request) => whoami(app, request.principal),
    );

    f.post<{ Body: z.infer<typeof createKeyBody> }>(
      '/v1/keys',
      {
        config: { access: 'admin' },
        schema: {
          tags: ['access'],
          summary: 'Create an API key for your tenant; the key is in this answer only',
          description: 'The new key may not hold roles that grant more than yours.',
          body: schemaOf(createKeyBody),
          response: responses(201, '`{key, ...the key as listed}`'),
        },
      },
      async (request, reply) => {
        const principal = request.principal;
        const roles = request.body.roles;
        if (!covers(principal.roles, roles)) {
          throw new AppError('FORBIDDEN', `A key may not grant more than its creator holds (${principal.roles.join(', ')})`, { details: { roles, yours: principal.roles } });
        }
        const { record, key } = await createApiKey(app.store, {
          tenantId: tenantOf(request),
          roles,
          name: request.body.name,
          expiresAt: parseExpiry(request.body.expires),
          createdBy: principal.id,
        });
        await audit(app, request, 'key.created', { type: 'key', id: record.id }, { name: record.name, roles: record.roles, expires_at: record.expires_at });
        return reply.status(201).send({ key, ...keyView(record) });
      },
    );

    f.get<{ Querystring: z.infer<typeof pageQuery> }>(
      '/v1/keys',
      { config: { access: 'admin' }, schema: { tags: ['access'], summary: 'Your tenant\'s API keys, newest first (never the keys themselves)', querystring: schemaOf(pageQuery), response: responses(200, '`{items, next_cursor}`') } },
      async (request) => {
        const page = await app.store.listApiKeys({ tenantId: tenantOf(request), limit: request.query.limit, cursor: request.query.cursor });
        return { items: page.items.map((k) => keyView(k)), next_cursor: page.next_cursor };
      },
    );

    f.delete<{ Params: { id: string } }>(
      '/v1/keys/:id',
      { config: { access: 'admin' }, schema: { tags: ['access'], summary: 'Revoke a key of your tenant; it stops working at once', params: schemaOf(idParams), response: responses(200, 'The revoked key') } },
      async (request) => {
        const revoked = await app.store.revokeApiKey(request.params.id, tenantOf(request), request.principal.id);
        if (!revoked) throw new AppError('KEY_NOT_FOUND', `No key ${request.params.id}`, { details: { key_id: request.params.id } });
        await audit(app, request, 'key.revoked', { type: 'key', id: revoked.id }, { name: revoked.name });
        return keyView(revoked);
      },
    );

    f.post<{ Body: z.infer<typeof streamTicketBody> }>(
      '/v1/stream-tickets',
      {
        config: { access: 'read' },
        schema: {
          tags: ['access'],
          summary: 'A single-use ticket to open one task\'s event stream from a browser',
          description:
            'Browsers cannot send headers with EventSource or WebSocket. The ticket opens one stream of the task (`?ticket=` on its events, stream or ws route) ' +
            'within a minute, once, from the service\'s own origin or AGENTIC_ALLOWED_ORIGINS.',
          body: schemaOf(streamTicketBody),
          response: responses(201, '`{ticket, task_id, expires_at, links}`'),
        },
      },
      async (request, reply) => {
        const task = await findTask(app, request, request.body.task_id);
        const ticket = `agt_${randomBytes(32).toString('base64url')}`;
        const expiresAt = new Date(Date.now() + TICKET_TTL_MS).toISOString();
        await app.store.createStreamTicket({ hash: secretHash(ticket), tenantId: task.tenant_id, taskId: task.id, principal: request.principal, expiresAt });
        const q = `?ticket=${ticket}`;
        return reply.status(201).send({
          ticket,
          task_id: task.id,
          expires_at: expiresAt,
          links: { events: `/v1/tasks/${task.id}/events${q}`, stream: `/v1/tasks/${task.id}/stream${q}`, websocket: `/v1/tasks/${task.id}/ws${q}` },
        });
      },
    );

    f.get<{ Querystring: z.infer<typeof auditQuery> }>(
      '/v1/audit',
      {
        config: { access: 'admin' },
        schema: { tags: ['access'], summary: 'Your tenant\'s audit log, newest first', querystring: schemaOf(auditQuery), response: responses(200, '`{items, next_cursor}`') },
      },
      async (request) => {
        const q = request.query;
        const page = await app.store.listAudit({ tenantId: tenantOf(request), action: q.action, principal: q.principal, targetId: q.target_id, since: q.since, until: q.until, limit: q.limit, cursor: q.cursor });
        return page;
      },
    );

    f.get(
      '/v1/quota',
      { config: { access: 'read' }, schema: { tags: ['access'], summary: 'Your tenant\'s quotas (null: no limit)', response: responses(200, 'The quotas') } },
      async (request) => {
        const q = quotasFor(app.config, tenantOf(request));
        return {
          tenant: tenantOf(request),
          max_tasks: q.maxTasks ?? null,
          tasks_per_minute: q.tasksPerMinute ?? null,
          tokens_per_day: q.tokensPerDay ?? null,
          usd_per_day: q.usdPerDay ?? null,
          requests_per_minute: app.auth?.mode === 'authenticated' && app.config.rateLimit > 0 ? app.config.rateLimit : null,
          streams_per_tenant: app.config.maxStreamsPerTenant,
          streams_per_credential: app.config.maxStreamsPerCredential,
        };
      },
    );
  };
}

function whoami(app: App, p: Principal) {
  return {
    principal: p.id,
    name: p.name,
    kind: p.kind,
    tenant: p.tenantId,
    roles: p.roles,
    permissions: permissionsOf(p.roles),
    operator: p.operator,
    acting_from: p.actingFrom ?? null,
    mode: app.auth?.mode ?? null,
  };
}
