import fastifyMultipart from '@fastify/multipart';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { App } from '../compose.js';
import { AppError } from '../errors.js';
import { declareAccess, registerAccess } from './access.js';
import { registerErrorHandling, sendError } from './error-handler.js';
import { registerRateLimit } from './rate-limit.js';
import { accessRoutes } from './routes/access.js';
import { policyRoutes } from './routes/policy.js';
import { registerJsonParser } from './json-body.js';
import { documentRoutes } from './routes/documents.js';
import { fileRoutes } from './routes/files.js';
import { healthRoutes, VERSION } from './routes/health.js';
import { seedRoutes } from './routes/seed.js';
import { taskRoutes } from './routes/tasks.js';
import { toolRoutes } from './routes/tools.js';
import { MAX_ID_CHARS } from './schemas.js';
import { registerZodValidation } from './validation.js';

export interface ServerState {
  /** True once the worker side (if any) has started. */
  ready: () => boolean;
}

/**
 * The idle timeout is for connections that do nothing: a request that takes long to answer (a slow tool,
 * waiting for a plan) or a stream must not be cut by it. The socket's timeout is off while a request is
 * answered and back on once its response is sent (a stream ends its connection's idle time with its heartbeats).
 */
function keepOpenWhileAnswering(f: FastifyInstance, idleMs: number): void {
  f.addHook('onRequest', async (request) => {
    request.raw.socket?.setTimeout(0);
  });
  f.addHook('onResponse', async (request) => {
    if (!request.raw.socket?.destroyed) request.raw.socket?.setTimeout(idleMs);
  });
}

/** Builds the HTTP API over an App. Listening is the caller's business. */
export async function buildServer(app: App, state: ServerState = { ready: () => true }): Promise<FastifyInstance> {
  const auth = app.auth;
  if (!auth) throw new AppError('CONFIG_INVALID', 'The HTTP API runs in processes that serve it (role all or api), not in workers');
  const f: FastifyInstance = Fastify({
    // Request lines at info level would flood the log under load; errors are logged by the error handler.
    loggerInstance: app.logger.child({ component: 'http' }, { level: app.logger.level === 'silent' ? 'silent' : 'warn' }) as FastifyBaseLogger,
    bodyLimit: app.config.maxBodyBytes,
    requestIdHeader: 'x-request-id',
    // Streams can be long; the server must not time them out.
    requestTimeout: 0,
    // A connection that sends and receives nothing for this long is closed, before its first request and
    // between requests; while a request is being answered it has no timeout (see keepOpenWhileAnswering).
    connectionTimeout: app.config.idleTimeoutMs,
    keepAliveTimeout: app.config.idleTimeoutMs,
    // On shutdown, open streams are closed (clients resume elsewhere with Last-Event-ID) rather than
    // holding the process open.
    forceCloseConnections: true,
    return503OnClosing: false,
    // Ids up to the schemas' limit reach the route; longer ones are refused by the router, in our error shape.
    routerOptions: { maxParamLength: MAX_ID_CHARS },
    frameworkErrors: sendError,
  });
  registerErrorHandling(f);
  keepOpenWhileAnswering(f, app.config.idleTimeoutMs);
  registerZodValidation(f);
  registerJsonParser(f);
  // Before the access hook: a refused upgrade's socket is closed by this plugin's hooks only if they saw the request first.
  await f.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } });
  // Before the OpenAPI generator and the routes: it refuses routes that declare no access, and documents the others'.
  declareAccess(f);
  registerAccess(f, app, auth);
  await registerRateLimit(f, app);
  await f.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'agentic',
        version: VERSION,
        description:
          'Plans and carries out multi-step tasks with agents and real tools. Errors are `{"error": {"code", "message", "details"}}`. ' +
          'In authenticated mode every route but /health, /ready and the API documents needs `Authorization: Bearer <API key or JWT>`; ' +
          'each route names the permission it needs.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API key (agk_…) or a JWT from the configured issuer' } } },
      tags: [
        { name: 'tasks', description: 'Create, inspect and cancel tasks' },
        { name: 'events', description: 'Live, resumable event streams' },
        { name: 'documents', description: 'The searchable document index' },
        { name: 'files', description: 'Uploaded files' },
        { name: 'tools', description: 'The tools, and running one directly' },
        { name: 'approvals', description: 'Human approval of risky tool calls' },
        { name: 'access', description: 'API keys, stream tickets, the tool policy, the audit log and quotas' },
        { name: 'service', description: 'Health and readiness' },
        { name: 'seed', description: 'The original API shapes, kept for their clients' },
      ],
    },
  });
  await f.register(fastifySwaggerUi, { routePrefix: '/docs' });
  await f.register(fastifyMultipart, { limits: { fileSize: app.config.maxFileBytes, files: 1, fields: 10 } });
  await f.register(healthRoutes(app, state));
  await f.register(taskRoutes(app));
  await f.register(seedRoutes(app));
  await f.register(documentRoutes(app));
  await f.register(fileRoutes(app));
  await f.register(toolRoutes(app));
  await f.register(accessRoutes(app));
  await f.register(policyRoutes(app));
  f.get('/openapi.json', { config: { access: 'public' }, schema: { hide: true } }, async () => f.swagger());
  return f;
}
