/**
 * The request rate limit of each credential (authenticated mode): AGENTIC_RATE_LIMIT requests per
 * minute, counted in Redis when REDIS_URL is set (so every API process shares one count per
 * credential), else in this process. Over the limit: 429 RATE_LIMITED with Retry-After and the
 * RateLimit-* headers. Requests without a credential (local mode, health) are not counted; a Redis
 * that cannot be reached lets requests through rather than stop the API (Redis is an accelerator).
 */
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { App } from '../compose.js';
import { AppError } from '../errors.js';

export async function registerRateLimit(f: FastifyInstance, app: App): Promise<void> {
  if (app.auth?.mode !== 'authenticated' || app.config.rateLimit === 0) return;
  await f.register(fastifyRateLimit, {
    global: true,
    max: app.config.rateLimit,
    timeWindow: 60_000,
    // After the access hook has set the principal.
    hook: 'onRequest',
    keyGenerator: (request) => request.principal?.credentialId ?? '',
    allowList: (request) => !request.principal?.credentialId,
    ...(app.redis ? { redis: app.redis, nameSpace: `${app.config.redisPrefix}:ratelimit:` } : {}),
    skipOnError: true,
    enableDraftSpec: true,
    errorResponseBuilder: (_request, context) =>
      new AppError('RATE_LIMITED', `More than ${context.max} requests a minute with this credential; retry in ${context.after}`, {
        details: { limit: context.max, window_s: 60, retry_after_s: Math.ceil(context.ttl / 1000) },
      }),
  });
}
