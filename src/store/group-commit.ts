import type { Database, Queryable } from './database.js';

interface Pending {
  key: string;
  run: (q: Queryable) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export interface GroupCommitOptions {
  /** Most writes in one transaction. @defaultValue 64 */
  maxBatch?: number;
  /** Transactions in flight at once (1 for PGlite, which has one connection). @defaultValue 1 */
  concurrency?: number;
}

/**
 * Group commit: writes that arrive while a transaction is in flight are run together in the next
 * one, so many tasks' small writes cost one commit instead of one each. Within a batch, writes run
 * in order of their key (the task id), so every transaction takes row locks in the same order and
 * batches from any number of processes cannot deadlock. If a write throws, the batch is rolled back
 * and its writes are run again one transaction each, so one bad write never takes others with it
 * (write functions must therefore only act through the transaction they are given).
 */
export class GroupCommitter {
  readonly #pending: Pending[] = [];
  readonly #maxBatch: number;
  readonly #concurrency: number;
  #active = 0;
  #scheduled = false;

  constructor(
    private readonly db: Database,
    options: GroupCommitOptions = {},
  ) {
    this.#maxBatch = options.maxBatch ?? 64;
    this.#concurrency = options.concurrency ?? 1;
  }

  submit<T>(key: string, run: (q: Queryable) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ key, run, resolve: resolve as (v: unknown) => void, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // Let the writes of this tick gather before the first transaction starts.
    setImmediate(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#active < this.#concurrency && this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#maxBatch);
      this.#active++;
      void this.#flush(batch).finally(() => {
        this.#active--;
        this.#pump();
      });
    }
  }

  async #flush(batch: Pending[]): Promise<void> {
    const ordered = batch.map((p, i) => ({ p, i })).sort((a, b) => (a.p.key < b.p.key ? -1 : a.p.key > b.p.key ? 1 : a.i - b.i));
    const results: unknown[] = new Array(batch.length);
    try {
      await this.db.transaction(async (q) => {
        for (const { p, i } of ordered) results[i] = await p.run(q);
      });
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      // Find the culprit: run each write alone.
      for (const { p } of ordered) {
        await this.db.transaction((q) => p.run(q)).then(p.resolve, p.reject);
      }
      return;
    }
    batch.forEach((p, i) => p.resolve(results[i]));
  }
}
