/** What only the Redis Streams queue has: redelivery from dead consumers, and surviving a Redis that lost its data. */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { dropPrefix, REDIS_URL, requireRedis, uniquePrefix } from '../../test/support/redis.js';
import { RedisStreamsQueue } from './redis-streams-queue.js';
import type { Job } from './types.js';
import { until } from '../../test/support/wait.js';

const run = await requireRedis();
const prefix = uniquePrefix('streams');
const connections: Redis[] = [];
const open = (consumer: string, claimIdleMs = 300) => {
  const redis = new Redis(REDIS_URL);
  connections.push(redis);
  return new RedisStreamsQueue(redis, { prefix, consumer, claimIdleMs, blockMs: 100 });
};

afterAll(async () => {
  for (const c of connections) c.disconnect();
  if (run) await dropPrefix(prefix);
});


describe.skipIf(!run)('Redis Streams queue', () => {
  it('redelivers the messages of a consumer that died without acknowledging them', async () => {
    const dead = open('dead');
    const job: Job = { kind: 'plan', taskId: 'orphan' };
    // The "dead" consumer reads the message and never acknowledges it (its process is gone).
    await dead.enqueue([job]);
    const reader = new Redis(REDIS_URL);
    connections.push(reader);
    await dead.ensureGroup();
    const read = await reader.xreadgroup('GROUP', 'workers', 'dead', 'COUNT', 10, 'STREAMS', dead.stream, '>');
    expect(read).not.toBeNull();
    const alive = open('alive');
    const got: Job[] = [];
    const consumer = alive.consume(async (j) => void got.push(j), { concurrency: 2 });
    await until(() => got.length === 1);
    expect(got[0]).toEqual(job);
    await until(async () => (await alive.depth()) === 0);
    await consumer.stop(1000);
  });

  it('keeps working after Redis loses the stream and the group', async () => {
    const q = open('survivor');
    const got: string[] = [];
    const consumer = q.consume(async (j) => void got.push(j.taskId), { concurrency: 2 });
    await q.enqueue([{ kind: 'plan', taskId: 'before' }]);
    await until(() => got.includes('before'));
    await dropPrefix(prefix); // as if Redis restarted without persistence
    await new Promise((r) => setTimeout(r, 300));
    await q.enqueue([{ kind: 'plan', taskId: 'after' }]);
    await until(() => got.includes('after'));
    await consumer.stop(1000);
  });
});
