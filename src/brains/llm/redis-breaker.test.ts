import { createServer, type AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { dropPrefix, REDIS_URL, requireRedis, uniquePrefix } from '../../../test/support/redis.js';
import type { Logger } from '../../observability/logger.js';
import { RedisCircuitBreakers } from './redis-breaker.js';

const connections: Redis[] = [];
const prefixes: string[] = [];

afterEach(async () => {
  for (const c of connections.splice(0)) c.disconnect();
  for (const p of prefixes.splice(0)) await dropPrefix(p);
});

function fakeLogger(): Logger & { warn: ReturnType<typeof vi.fn>; info: ReturnType<typeof vi.fn> } {
  return { warn: vi.fn(), info: vi.fn() } as unknown as Logger & { warn: ReturnType<typeof vi.fn>; info: ReturnType<typeof vi.fn> };
}

describe('RedisCircuitBreakers when Redis is unreachable', () => {
  it('fails open: admits calls, records nothing, reports closed, and logs once', async () => {
    // Nothing listens on port 1; no retries, no offline queue, so every command fails at once.
    const redis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    redis.on('error', () => undefined);
    connections.push(redis);
    const logger = fakeLogger();
    const b = new RedisCircuitBreakers(redis, 'nowhere', { failureThreshold: 1, cooldownMs: 60_000, logger });
    await b.failed('m');
    await b.failed('m');
    expect(await b.admit('m')).toBe(true);
    await b.succeeded('m');
    expect(await b.states(['m'])).toEqual([{ model: 'm', state: 'closed', failures: 0, opened_at: null }]);
    expect(logger.warn).toHaveBeenCalledTimes(1);
  });

  it('a command slower than timeoutMs counts as Redis down', async () => {
    // A server that accepts connections and never answers: commands would wait forever.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const redis = new Redis({ port: (silent.address() as AddressInfo).port, host: '127.0.0.1', retryStrategy: () => null });
      redis.on('error', () => undefined);
      connections.push(redis);
      const logger = fakeLogger();
      const b = new RedisCircuitBreakers(redis, 'silent', { failureThreshold: 1, cooldownMs: 60_000, timeoutMs: 50, logger });
      const started = Date.now();
      await b.failed('m');
      expect(await b.admit('m')).toBe(true);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(logger.warn).toHaveBeenCalledTimes(1);
    } finally {
      silent.close();
    }
  });
});

if (await requireRedis()) {
  describe('RedisCircuitBreakers in Redis', () => {
    it('keeps each model in a hash under ${prefix}:breaker:${model}', async () => {
      const prefix = uniquePrefix('breaker');
      prefixes.push(prefix);
      const redis = new Redis(REDIS_URL);
      connections.push(redis);
      const b = new RedisCircuitBreakers(redis, prefix, { failureThreshold: 1, cooldownMs: 60_000, now: () => 1234 });
      await b.failed('openai:gpt-4.1-mini');
      expect(await redis.hgetall(`${prefix}:breaker:openai:gpt-4.1-mini`)).toEqual({ state: 'open', failures: '1', opened_at: '1234' });
    });

    it('counts failures from many connections at once without losing any', async () => {
      const prefix = uniquePrefix('breaker');
      prefixes.push(prefix);
      const workers = Array.from({ length: 4 }, () => {
        const redis = new Redis(REDIS_URL);
        connections.push(redis);
        return new RedisCircuitBreakers(redis, prefix, { failureThreshold: 1000, cooldownMs: 60_000 });
      });
      await Promise.all(workers.flatMap((w) => Array.from({ length: 25 }, () => w.failed('m'))));
      expect((await workers[0]!.states(['m']))[0]).toMatchObject({ state: 'closed', failures: 100 });
    });
  });
}
