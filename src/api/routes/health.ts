import type { FastifyInstance } from 'fastify';
import type { App } from '../../compose.js';

export const VERSION = '0.1.0';

export function healthRoutes(app: App, state: { ready: () => boolean }) {
  return async (f: FastifyInstance) => {
    f.get('/health', { config: { access: 'public' }, schema: { tags: ['service'], summary: 'Liveness, with the brain, shape and model circuit breakers in use' } }, async () => {
      const [database, breakers] = await Promise.all([app.store.ping(), breakerStates(app)]);
      return {
        status: database ? 'healthy' : 'degraded',
        version: VERSION,
        brain: app.brain.name,
        model: app.brain.name === 'builtin' ? null : app.brain.name,
        shape: app.shape,
        role: app.role,
        auth: { mode: app.auth?.mode ?? null, warnings: app.auth?.warnings ?? [] },
        instance: app.engine.ctx.workerId,
        checks: { database: database ? 'ok' : 'unreachable' },
        breakers,
      };
    });

    f.get('/ready', { config: { access: 'public' }, schema: { tags: ['service'], summary: '200 when the service can take work, else 503' } }, async (_request, reply) => {
      const database = await app.store.ping();
      const ready = database && state.ready();
      return reply.status(ready ? 200 : 503).send({ ready, checks: { database: database ? 'ok' : 'unreachable', started: state.ready() } });
    });
  };
}

/** The brain's circuit breakers, `opened_at` as an ISO time; none for a brain that calls no model. */
async function breakerStates(app: App) {
  const states = (await app.brain.breakerStates?.()) ?? [];
  return states.map((b) => ({ ...b, opened_at: b.opened_at === null ? null : new Date(b.opened_at).toISOString() }));
}
