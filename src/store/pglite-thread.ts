/**
 * PGlite on its own thread. PGlite is PostgreSQL compiled to WebAssembly: every statement runs
 * synchronously on the thread that owns it. Owned by the service's main thread, a batch statement
 * of several milliseconds stalls HTTP, streams and timers for as long; on a worker thread the
 * database runs beside them, on another core when there is one, and the event loop stays free.
 *
 * The thread holds the one PGlite instance; the main thread sends it statements and transaction
 * boundaries as messages. A transaction is opened on the thread with PGlite's own `transaction`,
 * which keeps every other statement out until it ends, exactly as when PGlite is called directly.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';

type Row = Record<string, unknown>;

type Request =
  | { op: 'query'; sql: string; params: unknown[]; tx?: number }
  | { op: 'exec'; sql: string }
  | { op: 'begin' }
  | { op: 'end'; tx: number; commit: boolean }
  | { op: 'dump' }
  | { op: 'close' };

type Reply = { id: number; ok: true; value?: unknown } | { id: number; ok: false; error: Record<string, unknown> };

/** Statements inside a transaction. */
export interface PgliteSession {
  query<R extends Row = Row>(sql: string, params?: unknown[]): Promise<R[]>;
}

/**
 * The thread's program (CommonJS, evaluated as given so that it loads the same way under tsx, the
 * test runner and the compiled build). `end` settles the transaction callback; PGlite then commits
 * or rolls back and the reply goes to the `end` message.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.module);
const { dataDir, pgliteWasmModule, initdbWasmModule, fsBundle, template } = workerData;
const options = { pgliteWasmModule, initdbWasmModule, fsBundle: new Blob([fsBundle]), loadDataDir: template ? new Blob([template]) : undefined };
// Options alone for a database in memory: PGlite(undefined, options) does not start from loadDataDir.
const db = dataDir ? new PGlite(dataDir, options) : new PGlite(options);
const txs = new Map();
const ROLLBACK = new Error('rolled back by its caller');
const errorInfo = (e) => {
  const info = { message: String((e && e.message) || e) };
  if (e && typeof e === 'object') for (const k of Object.keys(e)) if (typeof e[k] !== 'function' && typeof e[k] !== 'object') info[k] = e[k];
  return info;
};
const reply = (id, value) => parentPort.postMessage({ id, ok: true, value });
const fail = (id, e) => parentPort.postMessage({ id, ok: false, error: errorInfo(e) });
const target = (tx) => {
  if (tx === undefined) return db;
  const t = txs.get(tx);
  if (!t) throw new Error('Transaction ' + tx + ' is not open');
  return t.tx;
};
parentPort.on('message', async ({ id, req }) => {
  try {
    switch (req.op) {
      case 'query': return reply(id, (await target(req.tx).query(req.sql, req.params)).rows);
      case 'exec': await db.exec(req.sql); return reply(id);
      case 'begin': {
        const entry = {};
        const ended = new Promise((resolve, reject) => { entry.finish = (commit) => (commit ? resolve() : reject(ROLLBACK)); });
        db.transaction(async (tx) => { entry.tx = tx; txs.set(id, entry); reply(id); await ended; }).then(
          () => { txs.delete(id); reply(entry.endId); },
          (e) => { txs.delete(id); if (entry.endId === undefined) fail(id, e); else if (e === ROLLBACK) reply(entry.endId); else fail(entry.endId, e); },
        );
        return;
      }
      case 'end': {
        const entry = txs.get(req.tx);
        if (!entry) throw new Error('Transaction ' + req.tx + ' is not open');
        entry.endId = id;
        entry.finish(req.commit);
        return;
      }
      case 'dump': {
        const bytes = new Uint8Array(await (await db.dumpDataDir('none')).arrayBuffer());
        return parentPort.postMessage({ id, ok: true, value: bytes }, [bytes.buffer]);
      }
      case 'close': if (!db.closed) await db.close(); return reply(id);
    }
  } catch (e) { fail(id, e); }
});
`;

interface Compiled {
  module: string;
  pgliteWasmModule: WasmModule;
  initdbWasmModule: WasmModule;
  fsBundle: Uint8Array;
}

let compiled: Promise<Compiled> | undefined;

/** A compiled WebAssembly module (opaque here; PGlite takes it as is). */
type WasmModule = object;

/** The WebAssembly global (the project's TypeScript library settings leave it out). */
const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } }).WebAssembly;

/** PGlite's WebAssembly, compiled once per process and shared by every thread (a compiled module can be). */
function compiledOnce(): Promise<Compiled> {
  compiled ??= (async () => {
    const module = createRequire(import.meta.url).resolve('@electric-sql/pglite');
    const dir = dirname(module);
    const [pglite, initdb, fsBundle] = await Promise.all(['pglite.wasm', 'initdb.wasm', 'pglite.data'].map((f) => readFile(join(dir, f))));
    const [pgliteWasmModule, initdbWasmModule] = await Promise.all([wasm.compile(pglite!), wasm.compile(initdb!)]);
    return { module, pgliteWasmModule, initdbWasmModule, fsBundle: fsBundle! };
  })();
  compiled.catch(() => (compiled = undefined));
  return compiled;
}

export class PgliteThread implements PgliteSession {
  readonly #worker: Promise<Worker>;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  #nextId = 1;
  #dead: Error | undefined;
  #closing: Promise<void> | undefined;

  /**
   * `dataDir` undefined keeps the database in memory. `template`: a data directory dumped by `dump`, which the
   * new database starts from instead of running initdb.
   */
  constructor(dataDir: string | undefined, template?: Uint8Array) {
    this.#worker = compiledOnce().then((c) => this.#start(new Worker(THREAD_SOURCE, { eval: true, workerData: { ...c, dataDir, template } })));
    // A failure to start reaches the first statement.
    this.#worker.catch(() => undefined);
  }

  #start(worker: Worker): Worker {
    worker.on('message', (m: Reply) => {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(Object.assign(new Error(String(m.error.message)), m.error));
    });
    const died = (err: Error) => {
      this.#dead ??= err;
      for (const p of this.#pending.values()) p.reject(this.#dead);
      this.#pending.clear();
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`The database thread stopped (exit code ${code})`)));
    return worker;
  }

  async #send<T>(req: Request, id = this.#nextId++): Promise<T> {
    const worker = await this.#worker;
    if (this.#dead) throw this.#dead;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      try {
        worker.postMessage({ id, req });
      } catch (err) {
        // A parameter that cannot be sent to the thread.
        this.#pending.delete(id);
        reject(err);
      }
    });
  }

  query<R extends Row = Row>(sql: string, params: unknown[] = []): Promise<R[]> {
    return this.#send<R[]>({ op: 'query', sql, params });
  }

  async exec(sql: string): Promise<void> {
    await this.#send({ op: 'exec', sql });
  }

  /** Runs `fn` in one transaction on the thread: committed when it resolves, rolled back when it throws. */
  async transaction<T>(fn: (tx: PgliteSession) => Promise<T>): Promise<T> {
    // The transaction is known on the thread by the id of the message that opened it.
    const tx = this.#nextId++;
    await this.#send({ op: 'begin' }, tx);
    const session: PgliteSession = {
      query: <R extends Row = Row>(sql: string, params: unknown[] = []) => this.#send<R[]>({ op: 'query', sql, params, tx }),
    };
    let value: T;
    try {
      value = await fn(session);
    } catch (err) {
      await this.#send({ op: 'end', tx, commit: false }).catch(() => undefined);
      throw err;
    }
    await this.#send({ op: 'end', tx, commit: true });
    return value;
  }

  /** The whole data directory as an uncompressed tar, to start other databases from. */
  dump(): Promise<Uint8Array> {
    return this.#send<Uint8Array>({ op: 'dump' });
  }

  /** Closes the database (waiting for a transaction in flight, at most `CLOSE_WAIT_MS`) and ends the thread. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#dead) return;
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          this.#send({ op: 'close' }),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('The database did not close in time')), CLOSE_WAIT_MS);
          }),
        ]);
      } finally {
        clearTimeout(timer);
        this.#dead = new Error('The database is closed');
        await (await this.#worker).terminate();
      }
    })();
    return this.#closing;
  }
}

/** How long `close` waits for the database to shut down cleanly before ending its thread anyway. */
const CLOSE_WAIT_MS = 10_000;
