import type { FastifyInstance } from 'fastify';
import type { App } from '../../compose.js';

export const VERSION = '0.1.0';

export function healthRoutes(app: App, state: { ready: () => boolean }) {
  return async (f: FastifyInstance) => {
    f.get('/health', { schema: { tags: ['service'], summary: 'Liveness, with the brain and shape in use' } }, async () => {
      const database = await app.store.ping();
      return {
        status: database ? 'healthy' : 'degraded',
        version: VERSION,
        brain: app.brain.name,
        model: app.brain.name === 'builtin' ? null : app.brain.name,
        shape: app.shape,
        role: app.role,
        instance: app.engine.ctx.workerId,
        checks: { database: database ? 'ok' : 'unreachable' },
      };
    });

    f.get('/ready', { schema: { tags: ['service'], summary: '200 when the service can take work, else 503' } }, async (_request, reply) => {
      const database = await app.store.ping();
      const ready = database && state.ready();
      return reply.status(ready ? 200 : 503).send({ ready, checks: { database: database ? 'ok' : 'unreachable', started: state.ready() } });
    });
  };
}
