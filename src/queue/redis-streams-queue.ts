import type { Redis } from 'ioredis';
import type { ConsumeOptions, Consumer, Job, JobHandler, WorkQueue } from './types.js';

export interface RedisStreamsQueueOptions {
  /** Key prefix; every key of this queue starts with it. */
  prefix: string;
  /** This process's consumer name in the group (unique per process). */
  consumer: string;
  /** A message delivered to a consumer that has not touched it for this long is claimed by another, ms. */
  claimIdleMs: number;
  /** How long a read blocks waiting for messages, ms. @defaultValue 1000 */
  blockMs?: number;
}

const GROUP = 'workers';

type StreamEntry = [id: string, fields: string[]];

/**
 * The distributed shape's queue: a Redis stream with one consumer group. Workers read with
 * XREADGROUP, acknowledge (and delete) a message once its job's outcome is committed, and take over
 * messages of dead consumers with XAUTOCLAIM. A live consumer keeps its messages' idle time low
 * (XCLAIM … JUSTID on itself) so they are not taken while it works. Delivery is at least once; the
 * step lease in the store makes a duplicate harmless, and the reconciler re-dispatches anything a
 * Redis that restarted empty has lost.
 */
export class RedisStreamsQueue implements WorkQueue {
  readonly stream: string;
  #groupReady: Promise<void> | undefined;
  readonly #consumers = new Set<RedisConsumer>();

  constructor(
    readonly redis: Redis,
    readonly options: RedisStreamsQueueOptions,
  ) {
    this.stream = `${options.prefix}:jobs`;
  }

  /** Creates the stream and group if missing (again after Redis lost them). */
  ensureGroup(force = false): Promise<void> {
    if (force || !this.#groupReady) {
      this.#groupReady = this.redis
        .xgroup('CREATE', this.stream, GROUP, '0', 'MKSTREAM')
        .then(() => undefined)
        .catch((err: Error) => {
          if (!/BUSYGROUP/.test(err.message)) {
            this.#groupReady = undefined;
            throw err;
          }
        });
    }
    return this.#groupReady;
  }

  async enqueue(jobs: Job[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.ensureGroup();
    const pipeline = this.redis.pipeline();
    for (const job of jobs) pipeline.xadd(this.stream, '*', 'job', JSON.stringify(job));
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed) throw failed[0];
  }

  consume(handler: JobHandler, options: ConsumeOptions): Consumer {
    const consumer = new RedisConsumer(this, handler, options.concurrency, (c) => this.#consumers.delete(c));
    this.#consumers.add(consumer);
    consumer.start();
    return consumer;
  }

  /** Messages not yet acknowledged: waiting ones and those being worked on. */
  async depth(): Promise<number> {
    return this.redis.xlen(this.stream);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#consumers].map((c) => c.stop(0)));
  }
}

class RedisConsumer implements Consumer {
  readonly #inFlight = new Set<string>();
  readonly #reader: Redis;
  #running = false;
  #slot: (() => void) | undefined;
  #idle: Array<() => void> = [];
  #timers: NodeJS.Timeout[] = [];
  #loop: Promise<void> | undefined;

  constructor(
    private readonly queue: RedisStreamsQueue,
    private readonly handler: JobHandler,
    private readonly concurrency: number,
    private readonly onStop: (c: RedisConsumer) => void,
  ) {
    // Blocking reads need a connection of their own.
    this.#reader = queue.redis.duplicate();
    this.#reader.on('error', () => undefined);
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  start(): void {
    this.#running = true;
    this.#loop = this.#readLoop();
    const { claimIdleMs } = this.queue.options;
    this.#timers.push(setInterval(() => void this.#claimAbandoned(), Math.max(200, Math.floor(claimIdleMs / 2))));
    this.#timers.push(setInterval(() => void this.#touch(), Math.max(100, Math.floor(claimIdleMs / 3))));
    for (const t of this.#timers) t.unref();
  }

  async #readLoop(): Promise<void> {
    const { stream } = this.queue;
    const { consumer, blockMs = 1000 } = this.queue.options;
    while (this.#running) {
      const free = this.concurrency - this.#inFlight.size;
      if (free <= 0) {
        await new Promise<void>((r) => (this.#slot = r));
        continue;
      }
      try {
        await this.queue.ensureGroup();
        const res = (await this.#reader.xreadgroup('GROUP', GROUP, consumer, 'COUNT', free, 'BLOCK', blockMs, 'STREAMS', stream, '>')) as
          | Array<[string, StreamEntry[]]>
          | null;
        for (const [, entries] of res ?? []) for (const entry of entries) this.#dispatch(entry);
      } catch (err) {
        if (!this.#running) return;
        // NOGROUP: Redis restarted without its data; make the group again. Anything else: wait a little.
        if (/NOGROUP/.test((err as Error).message)) await this.queue.ensureGroup(true).catch(() => undefined);
        else await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  #dispatch([id, fields]: StreamEntry): void {
    if (this.#inFlight.has(id)) return;
    const raw = fields[fields.indexOf('job') + 1];
    let job: Job;
    try {
      job = JSON.parse(raw ?? '') as Job;
    } catch {
      void this.#ack(id); // Not a job this version understands; drop it rather than loop on it.
      return;
    }
    this.#inFlight.add(id);
    void this.handler(job)
      .catch(() => undefined)
      .then(() => this.#ack(id))
      .finally(() => {
        this.#inFlight.delete(id);
        this.#slot?.();
        this.#slot = undefined;
        if (this.#inFlight.size === 0) this.#idle.splice(0).forEach((r) => r());
      });
  }

  async #ack(id: string): Promise<void> {
    const { stream } = this.queue;
    await this.queue.redis
      .multi()
      .xack(stream, GROUP, id)
      .xdel(stream, id)
      .exec()
      .catch(() => undefined); // A lost ack means a redelivery, which the lease makes harmless.
  }

  /** Takes over messages that another (dead) consumer left unacknowledged for too long. */
  async #claimAbandoned(): Promise<void> {
    const free = this.concurrency - this.#inFlight.size;
    if (!this.#running || free <= 0) return;
    const { stream } = this.queue;
    const { consumer, claimIdleMs } = this.queue.options;
    try {
      const res = (await this.queue.redis.xautoclaim(stream, GROUP, consumer, claimIdleMs, '0-0', 'COUNT', free)) as [string, StreamEntry[]];
      for (const entry of res[1] ?? []) if (entry) this.#dispatch(entry);
    } catch {
      // The next round tries again.
    }
  }

  /** Resets the idle time of the messages this consumer is working on, so nobody claims them. */
  async #touch(): Promise<void> {
    if (this.#inFlight.size === 0) return;
    const { stream } = this.queue;
    await this.queue.redis
      .xclaim(stream, GROUP, this.queue.options.consumer, 0, ...this.#inFlight, 'JUSTID')
      .catch(() => undefined);
  }

  async stop(graceMs = 10_000): Promise<void> {
    if (this.#running) {
      this.#running = false;
      for (const t of this.#timers) clearInterval(t);
      this.#slot?.();
      this.onStop(this);
      this.#reader.disconnect();
      await this.#loop?.catch(() => undefined);
    }
    if (this.#inFlight.size > 0) {
      await Promise.race([
        new Promise<void>((r) => this.#idle.push(r)),
        new Promise<void>((r) => setTimeout(r, graceMs).unref()),
      ]);
    }
  }
}
