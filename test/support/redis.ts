/** Access to the real Redis for tests, each caller under its own key prefix. Missing Redis fails in CI. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let reachable: Promise<boolean> | undefined;

export function redisReachable(): Promise<boolean> {
  reachable ??= (async () => {
    const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      await r.connect();
      return (await r.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      r.disconnect();
    }
  })();
  return reachable;
}

/** True when the suite should run; throws in CI when Redis is missing. */
export async function requireRedis(): Promise<boolean> {
  const ok = await redisReachable();
  if (!ok && process.env.CI) throw new Error(`Redis is required in CI but ${REDIS_URL} is not reachable`);
  return ok;
}

export function uniquePrefix(name = 't'): string {
  return `agentic-test:${name}:${randomBytes(5).toString('hex')}`;
}

/** Deletes every key under the prefix. */
export async function dropPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL);
  try {
    const keys = await r.keys(`${prefix}:*`);
    if (keys.length > 0) await r.del(...keys);
  } finally {
    r.disconnect();
  }
}
