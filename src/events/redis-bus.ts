import type { Redis } from 'ioredis';
import type { EventBus, EventListener } from './bus.js';
import type { TaskEvent } from './types.js';

/**
 * Live events across processes over Redis pub/sub, one channel per task. Events are persisted
 * before they are published here; a subscriber that misses one (a Redis restart, a dropped
 * connection) finds it in the store, since followers fill gaps from the log.
 */
export class RedisEventBus implements EventBus {
  readonly #listeners = new Map<string, Set<EventListener>>();
  readonly #subscribing = new Map<string, Promise<unknown>>();
  readonly #sub: Redis;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.#sub = redis.duplicate();
    this.#sub.on('error', () => undefined);
    this.#sub.on('message', (channel: string, message: string) => this.#deliver(channel, message));
  }

  #channel(taskId: string): string {
    return `${this.prefix}:events:${taskId}`;
  }

  #deliver(channel: string, message: string): void {
    const taskId = channel.slice(this.prefix.length + ':events:'.length);
    const set = this.#listeners.get(taskId);
    if (!set || set.size === 0) return;
    let event: TaskEvent;
    try {
      event = JSON.parse(message) as TaskEvent;
    } catch {
      return;
    }
    for (const listener of [...set]) {
      try {
        listener(event);
      } catch {
        // One failing listener must not stop delivery to the others.
      }
    }
  }

  async publish(events: TaskEvent[]): Promise<void> {
    if (events.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const e of events) pipeline.publish(this.#channel(e.task_id), JSON.stringify(e));
    // Publishing is best effort: the events are already stored, and followers re-read the log.
    await pipeline.exec().catch(() => undefined);
  }

  async subscribe(taskId: string, listener: EventListener): Promise<() => void> {
    let set = this.#listeners.get(taskId);
    if (!set) {
      set = new Set();
      this.#listeners.set(taskId, set);
      this.#subscribing.set(taskId, this.#sub.subscribe(this.#channel(taskId)).catch(() => undefined));
    }
    set.add(listener);
    await this.#subscribing.get(taskId);
    return () => {
      set.delete(listener);
      if (set.size > 0 || this.#listeners.get(taskId) !== set) return;
      this.#listeners.delete(taskId);
      this.#subscribing.delete(taskId);
      void this.#sub.unsubscribe(this.#channel(taskId)).catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    this.#sub.disconnect();
  }
}
