/**
 * Access control at the HTTP edge, the only place a principal is established:
 *
 * 1. In local mode, the Host header must name a loopback address or `localhost` (421 otherwise), and a
 *    request that carries an Origin must come from the service's own origin or AGENTIC_ALLOWED_ORIGINS
 *    (403): a web page cannot drive the API through DNS rebinding or a cross-site form. In every mode a
 *    WebSocket upgrade or a ticket-authenticated stream from a foreign Origin is refused.
 * 2. Every route declares the permission it needs (`config.access`); a route without one fails the
 *    start. `public` routes (health, the API documents) need no credential.
 * 3. The principal comes from the credential (Authorization: Bearer, or a stream ticket on the stream
 *    routes); X-Tenant-Id and X-User-Id are not read. An operator credential may act for another tenant
 *    with X-Act-As-Tenant, and each such request is audited.
 * 4. The principal's roles must grant the route's permission (403 otherwise).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { App } from '../compose.js';
import { isLoopbackHost, unauthenticated, type Authenticator } from '../auth/authenticator.js';
import { secretHash } from '../auth/keys.js';
import { ANY_TENANT, can, permissionsOf, ROLES, TENANT_PATTERN, type Permission, type Principal } from '../auth/principal.js';
import { AppError } from '../errors.js';
import { appendAudit } from './audit.js';

/** What a route needs: a permission, or nothing (`public`). */
export type Access = Permission | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The permission the route needs; every route declares one. */
    access?: Access;
    /** The route accepts a stream ticket (`?ticket=`) instead of an Authorization header. */
    ticket?: boolean;
  }
  interface FastifyRequest {
    /** Who is asking; set for every route that is not public. */
    principal: Principal;
  }
}

const ACT_AS = 'x-act-as-tenant';

/** Which roles hold a permission, for the API documents. */
function rolesWith(permission: Permission): string {
  return ROLES.filter((r) => permissionsOf([r]).includes(permission)).join(', ');
}

/** A route and what it needs. */
export interface RouteAccess {
  method: string;
  url: string;
  access: Access;
  ticket: boolean;
}

const tables = new WeakMap<FastifyInstance, RouteAccess[]>();

/** Every route of a server with the access it declared (HEAD routes left out: they follow their GET). */
export function routeAccessTable(f: FastifyInstance): readonly RouteAccess[] {
  return tables.get(f) ?? [];
}

/**
 * Declares the access rules of every route in the OpenAPI document, and refuses a route that
 * declares none. Must be registered before the routes and before the OpenAPI generator.
 */
export function declareAccess(f: FastifyInstance): void {
  const table: RouteAccess[] = [];
  tables.set(f, table);
  f.addHook('onRoute', (route) => {
    const config = (route.config ??= {});
    // The documentation UI's own routes are public pages.
    if (config.access === undefined && route.url.startsWith('/docs')) config.access = 'public';
    if (config.access === undefined) throw new Error(`Route ${String(route.method)} ${route.url} declares no access (config.access)`);
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') table.push({ method, url: route.url, access: config.access, ticket: config.ticket === true });
    }
    if (config.access === 'public' || !route.schema) return;
    const needs = `Needs the \`${config.access}\` permission (roles: ${rolesWith(config.access)}).`;
    route.schema = {
      ...route.schema,
      description: route.schema.description ? `${route.schema.description}\n\n${needs}` : needs,
      security: [{ bearer: [] }],
      'x-permission': config.access,
    } as typeof route.schema;
  });
}

/** The hooks that establish the principal of each request. */
export function registerAccess(f: FastifyInstance, app: App, auth: Authenticator): void {
  f.decorateRequest('principal', null as unknown as Principal);
  f.addHook('onRequest', async (request) => {
    checkHostAndOrigin(request, auth, app.config.allowedOrigins);
    if (request.is404) return;
    const access = request.routeOptions.config.access;
    if (access === 'public') return;
    const principal = await actAs(app, request, await principalOf(app, request, auth));
    if (!can(principal, access!)) {
      throw new AppError('FORBIDDEN', `This needs the ${access} permission, which the roles ${principal.roles.join(', ')} do not grant`, {
        details: { required: access, roles: principal.roles, roles_that_may: rolesWith(access!).split(', ') },
      });
    }
    request.principal = principal;
  });
}

async function principalOf(app: App, request: FastifyRequest, auth: Authenticator): Promise<Principal> {
  const ticket = (request.query as { ticket?: unknown } | undefined)?.ticket;
  if (typeof ticket === 'string' && request.routeOptions.config.ticket) return redeemTicket(app, request, ticket);
  return auth.authenticate(request.headers.authorization);
}

/** A stream ticket: valid once, for the stream of the task it was made for, within its minute. */
async function redeemTicket(app: App, request: FastifyRequest, ticket: string): Promise<Principal> {
  const params = request.params as { id?: string; task_id?: string };
  const taskId = params.id ?? params.task_id ?? '';
  const redeemed = ticket.length <= 200 ? await app.store.redeemStreamTicket(secretHash(ticket), taskId) : null;
  if (!redeemed) throw unauthenticated('ticket', 'The stream ticket is unknown, used, expired or for another task; ask POST /v1/stream-tickets for a new one');
  return redeemed.principal as Principal;
}

/** An operator's request for another tenant (X-Act-As-Tenant): allowed to operator credentials only, and audited. */
async function actAs(app: App, request: FastifyRequest, principal: Principal): Promise<Principal> {
  const raw = request.headers[ACT_AS];
  const tenant = Array.isArray(raw) ? raw[0] : raw;
  if (tenant === undefined) {
    if (principal.tenantId === ANY_TENANT) {
      throw new AppError('VALIDATION_ERROR', 'An operator key acts for a tenant: name it with the X-Act-As-Tenant header', { details: { header: 'X-Act-As-Tenant' } });
    }
    return principal;
  }
  if (!principal.operator) {
    throw new AppError('FORBIDDEN', 'Only an operator credential may act for another tenant (X-Act-As-Tenant)', { details: { header: 'X-Act-As-Tenant' } });
  }
  if (!TENANT_PATTERN.test(tenant)) {
    throw new AppError('VALIDATION_ERROR', 'X-Act-As-Tenant must be 1-64 letters, digits, ".", "_" or "-"', { details: { header: 'X-Act-As-Tenant' } });
  }
  if (tenant === principal.tenantId) return principal;
  const acting: Principal = { ...principal, tenantId: tenant, actingFrom: principal.tenantId };
  // Written before the request acts: a request that cannot be audited does not act for another tenant.
  await appendAudit(app, request, 'tenant.act_as', { type: 'tenant', id: tenant }, { method: request.method, route: request.routeOptions.url }, acting);
  return acting;
}

/** The origins a browser page may call from: the service's own (as the Host header names it), and the configured ones. */
export function originAllowed(origin: string, host: string | undefined, allowed: readonly string[]): boolean {
  if (allowed.includes(origin)) return true;
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}

function checkHostAndOrigin(request: FastifyRequest, auth: Authenticator, allowed: readonly string[]): void {
  const host = request.headers.host;
  const origin = request.headers.origin;
  if (auth.mode === 'local') {
    const name = host?.replace(/:\d+$/, '') ?? '';
    if (!isLoopbackHost(name)) {
      throw new AppError('HOST_NOT_ALLOWED', `This service answers only to a loopback Host (localhost, 127.0.0.1, [::1]), not ${JSON.stringify(host ?? '')}`, {
        details: { host: host ?? null },
      });
    }
  }
  const browserStream = request.headers.upgrade?.toLowerCase() === 'websocket' || (request.query as { ticket?: unknown } | undefined)?.ticket !== undefined;
  if (origin !== undefined && (auth.mode === 'local' || browserStream) && !originAllowed(origin, host, allowed)) {
    throw new AppError('ORIGIN_NOT_ALLOWED', `Requests from the web page at ${origin.slice(0, 200)} are not allowed (AGENTIC_ALLOWED_ORIGINS)`, {
      details: { origin: origin.slice(0, 200) },
    });
  }
}
