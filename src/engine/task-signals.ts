import { AppError } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import { isTerminalEvent } from '../events/types.js';

interface Entry {
  controller: AbortController;
  refs: number;
  unsubscribe: Promise<() => void>;
}

/**
 * One abort signal per task this process is working on. It fires when the task ends anywhere (a
 * cancel on another API instance arrives as a terminal event on the bus) or when this process shuts
 * down, so that running model and tool calls stop promptly.
 */
export class TaskSignals {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly bus: EventBus) {}

  /** A signal for the task; call `release` when done with it. */
  async acquire(taskId: string): Promise<{ signal: AbortSignal; release: () => void }> {
    let entry = this.#entries.get(taskId);
    if (!entry) {
      const controller = new AbortController();
      const unsubscribe = this.bus.subscribe(taskId, (event) => {
        if (isTerminalEvent(event)) {
          controller.abort(new AppError('CANCELLED', `Task ${taskId} ended (${event.type})`));
        }
      });
      entry = { controller, refs: 0, unsubscribe };
      this.#entries.set(taskId, entry);
    }
    entry.refs++;
    await entry.unsubscribe;
    const e = entry;
    let released = false;
    return {
      signal: e.controller.signal,
      release: () => {
        if (released) return;
        released = true;
        if (--e.refs > 0) return;
        this.#entries.delete(taskId);
        void e.unsubscribe.then((off) => off());
      },
    };
  }

  /** Aborts work on one task in this process (a cancel made here). */
  abort(taskId: string, reason: AppError): void {
    this.#entries.get(taskId)?.controller.abort(reason);
  }

  /** Aborts everything (shutdown). */
  abortAll(reason: AppError): void {
    for (const entry of this.#entries.values()) entry.controller.abort(reason);
  }
}
