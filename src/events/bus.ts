import type { TaskEvent } from './types.js';

export type EventListener = (event: TaskEvent) => void;

/**
 * Live delivery of events that are already persisted. Publishing is best effort: a subscriber that
 * misses a live event finds it in the store (the follower fills gaps from the log).
 */
export interface EventBus {
  publish(events: TaskEvent[]): Promise<void>;
  /** Resolves once the subscription is active, so a reader can subscribe first, then read the backlog. */
  subscribe(taskId: string, listener: EventListener): Promise<() => void>;
  close(): Promise<void>;
}

/** The embedded shape's bus: listeners in this process. */
export class InProcessEventBus implements EventBus {
  readonly #listeners = new Map<string, Set<EventListener>>();

  async publish(events: TaskEvent[]): Promise<void> {
    for (const event of events) {
      const set = this.#listeners.get(event.task_id);
      if (!set) continue;
      for (const listener of [...set]) {
        try {
          listener(event);
        } catch {
          // A failing listener must not stop delivery to the others.
        }
      }
    }
  }

  async subscribe(taskId: string, listener: EventListener): Promise<() => void> {
    let set = this.#listeners.get(taskId);
    if (!set) {
      set = new Set();
      this.#listeners.set(taskId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(taskId);
    };
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }
}
