import { Redis } from 'ioredis';
import { dropPrefix, REDIS_URL, requireRedis, uniquePrefix } from '../../test/support/redis.js';
import { InProcessWorkQueue } from './in-process-queue.js';
import { runWorkQueueContract } from './queue-contract.js';
import { RedisStreamsQueue } from './redis-streams-queue.js';
import type { WorkQueue } from './types.js';

runWorkQueueContract('in-process', async () => {
  const queues = new Map<string, InProcessWorkQueue>();
  return {
    open: async (shared) => {
      let q = queues.get(shared);
      if (!q) queues.set(shared, (q = new InProcessWorkQueue()));
      return q;
    },
    cleanup: async () => undefined,
  };
});

if (await requireRedis()) {
  runWorkQueueContract('Redis Streams', async () => {
    const prefix = uniquePrefix('queue');
    const connections: Redis[] = [];
    let n = 0;
    return {
      open: async (shared): Promise<WorkQueue> => {
        const redis = new Redis(REDIS_URL);
        connections.push(redis);
        return new RedisStreamsQueue(redis, { prefix: `${prefix}:${shared}`, consumer: `c${n++}`, claimIdleMs: 5000, blockMs: 100 });
      },
      cleanup: async () => {
        for (const c of connections) c.disconnect();
        await dropPrefix(prefix);
      },
    };
  });
}
