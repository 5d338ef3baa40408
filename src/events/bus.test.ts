/** The event bus contract, against the in-process bus and Redis pub/sub. */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_URL, requireRedis, uniquePrefix } from '../../test/support/redis.js';
import { InProcessEventBus, type EventBus } from './bus.js';
import { RedisEventBus } from './redis-bus.js';
import type { TaskEvent } from './types.js';
import { until } from '../../test/support/wait.js';

const event = (task_id: string, seq: number): TaskEvent => ({
  seq,
  type: 'partial_output',
  task_id,
  step_id: 's1',
  timestamp: new Date().toISOString(),
  data: { text: `t${seq}`, attempt: 1, turn: 0 },
});


function runEventBusContract(name: string, open: () => EventBus[]): void {
  describe(`EventBus contract: ${name}`, () => {
    it('delivers a task\'s events, in order, to every subscriber of that task only, from any publisher', async () => {
      const [a, b] = open();
      const got1: number[] = [];
      const got2: number[] = [];
      const other: number[] = [];
      const off1 = await a!.subscribe('task-1', (e) => got1.push(e.seq));
      const off2 = await b!.subscribe('task-1', (e) => got2.push(e.seq));
      const off3 = await b!.subscribe('task-2', (e) => other.push(e.seq));
      await b!.publish([event('task-1', 1), event('task-1', 2)]);
      await a!.publish([event('task-1', 3)]);
      await until(() => got1.length === 3 && got2.length === 3);
      expect(got1).toEqual([1, 2, 3]);
      expect(got2).toEqual([1, 2, 3]);
      expect(other).toEqual([]);
      off1();
      await a!.publish([event('task-1', 4)]);
      await until(() => got2.length === 4);
      expect(got1).toEqual([1, 2, 3]);
      off2();
      off3();
    });

    it('is subscribed once subscribe resolves', async () => {
      const [a, b] = open();
      const got: number[] = [];
      await b!.subscribe('task-3', (e) => got.push(e.seq));
      await a!.publish([event('task-3', 1)]);
      await until(() => got.length === 1);
    });
  });
}

const inProcess = new InProcessEventBus();
runEventBusContract('in-process', () => [inProcess, inProcess]);

if (await requireRedis()) {
  const prefix = uniquePrefix('bus');
  const connections: Redis[] = [];
  const buses: EventBus[] = [];
  afterAll(async () => {
    for (const b of buses) await b.close();
    for (const c of connections) c.disconnect();
  });
  runEventBusContract('Redis pub/sub', () => {
    const pair = [0, 1].map(() => {
      const redis = new Redis(REDIS_URL);
      connections.push(redis);
      const bus = new RedisEventBus(redis, prefix);
      buses.push(bus);
      return bus;
    });
    return pair;
  });
}
