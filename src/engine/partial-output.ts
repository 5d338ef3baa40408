import type { TaskWriter } from '../store/types.js';
import { commit, type EngineContext } from './context.js';

/** How long text may wait before it is flushed as one partial_output event. */
const COALESCE_MS = 50;
/** Text beyond this size is flushed at once. */
const MAX_CHUNK = 4096;

/**
 * Coalesces text streamed by a brain into partial_output events: not one event per token, but one
 * per ~50 ms or 4 KiB. Each flush is persisted before it is published; flushes keep their order.
 */
export class PartialOutputBuffer {
  #text = '';
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  #discarded = false;

  constructor(
    private readonly ctx: EngineContext,
    private readonly taskId: string,
    private readonly stepId: string,
    private readonly attempt: number,
    private readonly turn: number,
  ) {}

  push(text: string): void {
    if (this.#discarded || !text) return;
    this.#text += text;
    if (this.#text.length >= MAX_CHUNK) this.#flush();
    else this.#timer ??= setTimeout(() => this.#flush(), COALESCE_MS);
  }

  /** Waits for flushes in progress (the rest goes out with the decision's commit). */
  async settle(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#chain;
  }

  /** Takes what is still buffered, to append in the caller's transaction with `appendText`. */
  takeRest(): string {
    return this.#take();
  }

  /** Appends text as one partial_output event (a no-op for empty text). */
  async appendText(w: TaskWriter, text: string): Promise<void> {
    if (text) await w.append(this.#event(text));
  }

  discard(): void {
    this.#discarded = true;
    clearTimeout(this.#timer);
    this.#text = '';
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const text = this.#take();
    if (!text) return;
    this.#chain = this.#chain
      .then(() => commit(this.ctx, this.taskId, async (w) => void (await w.append(this.#event(text)))))
      .catch(() => undefined); // Progress text is best effort; the journal holds the real output.
  }

  #take(): string {
    const text = this.#text;
    this.#text = '';
    return text;
  }

  #event(text: string) {
    return { type: 'partial_output' as const, step_id: this.stepId, data: { text, attempt: this.attempt, turn: this.turn } };
  }
}
