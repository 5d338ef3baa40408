import type { EventBus } from './bus.js';
import { isTerminalEvent, type TaskEvent } from './types.js';

export interface EventLogReader {
  listEvents(taskId: string, after: number, limit: number): Promise<TaskEvent[]>;
}

export type FollowItem = { kind: 'event'; event: TaskEvent } | { kind: 'idle' };

export interface FollowOptions {
  /** Yields `{kind: 'idle'}` after this long without events (for heartbeats), and re-reads the log. */
  idleMs: number;
  signal?: AbortSignal;
}

const PAGE = 500;

/**
 * Follows a task's event log from after seq `after`: subscribes to the live bus first, then reads the
 * backlog from the store, then merges live events by seq. Every event is yielded exactly once and in
 * order; a gap in the live feed (a lost publish) is filled from the store. Ends after the terminal
 * event, or when the signal aborts.
 */
export async function* followTask(
  log: EventLogReader,
  bus: EventBus,
  taskId: string,
  after: number,
  options: FollowOptions,
): AsyncGenerator<FollowItem> {
  const live: TaskEvent[] = [];
  let wake: (() => void) | undefined;
  const unsubscribe = await bus.subscribe(taskId, (event) => {
    live.push(event);
    wake?.();
  });
  const onAbort = () => wake?.();
  options.signal?.addEventListener('abort', onAbort);
  let cursor = after;
  try {
    // Resuming right after the terminal event: nothing more will come.
    if (after > 0 && (await log.listEvents(taskId, after - 1, 1)).some(isTerminalEvent)) return;
    const caughtUp = yield* readLog(log, taskId, () => cursor, (seq) => (cursor = seq));
    if (caughtUp) return;
    while (!options.signal?.aborted) {
      if (live.length === 0) {
        const woke = await waitFor((r) => (wake = r), options.idleMs);
        wake = undefined;
        if (options.signal?.aborted) return;
        if (!woke) {
          yield { kind: 'idle' };
          if (yield* readLog(log, taskId, () => cursor, (seq) => (cursor = seq))) return;
          continue;
        }
      }
      const batch = live.splice(0).sort((a, b) => a.seq - b.seq);
      for (const event of batch) {
        if (event.seq <= cursor) continue;
        if (event.seq > cursor + 1) {
          // A live event arrived ahead of one we have not seen: the log has the missing ones.
          if (yield* readLog(log, taskId, () => cursor, (seq) => (cursor = seq))) return;
          continue;
        }
        cursor = event.seq;
        yield { kind: 'event', event };
        if (isTerminalEvent(event)) return;
      }
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    unsubscribe();
  }
}

/** Yields the stored events after the cursor; returns true when the terminal event was among them. */
async function* readLog(
  log: EventLogReader,
  taskId: string,
  cursor: () => number,
  advance: (seq: number) => void,
): AsyncGenerator<FollowItem, boolean> {
  for (;;) {
    const page = await log.listEvents(taskId, cursor(), PAGE);
    for (const event of page) {
      advance(event.seq);
      yield { kind: 'event', event };
      if (isTerminalEvent(event)) return true;
    }
    if (page.length < PAGE) return false;
  }
}

/** Resolves true when woken, false after `ms`. */
function waitFor(register: (wake: () => void) => void, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    register(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
