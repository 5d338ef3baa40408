import { Redis } from 'ioredis';
import { dropPrefix, REDIS_URL, requireRedis, uniquePrefix } from '../../../test/support/redis.js';
import { InProcessCircuitBreakers, type CircuitBreakers } from './breaker.js';
import { runCircuitBreakersContract } from './breaker-contract.js';
import { RedisCircuitBreakers } from './redis-breaker.js';

runCircuitBreakersContract('in-process', async () => {
  const shared = new Map<string, InProcessCircuitBreakers>();
  return {
    open: async (name, options) => {
      let b = shared.get(name);
      if (!b) shared.set(name, (b = new InProcessCircuitBreakers(options)));
      return b;
    },
    cleanup: async () => undefined,
  };
});

if (await requireRedis()) {
  runCircuitBreakersContract('Redis', async () => {
    const prefix = uniquePrefix('breaker');
    const connections: Redis[] = [];
    return {
      // Each call opens its own connection, as another worker process would.
      open: async (name, options): Promise<CircuitBreakers> => {
        const redis = new Redis(REDIS_URL);
        connections.push(redis);
        return new RedisCircuitBreakers(redis, `${prefix}:${name}`, options);
      },
      cleanup: async () => {
        for (const c of connections) c.disconnect();
        await dropPrefix(prefix);
      },
    };
  });
}
