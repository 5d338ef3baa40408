/**
 * Circuit breakers shared by every worker process through Redis, so that one worker's failures
 * open a provider's breaker for all of them. Each model's breaker is a hash
 * `${prefix}:breaker:${model}` (`state`, `failures`, `opened_at`); a half-open breaker's one trial
 * call holds the token `${prefix}:breaker:${model}:trial` (SET NX with a TTL, so a trial whose
 * worker died expires). Every read-modify-write is one Lua script, hence atomic across processes.
 *
 * Times come from the caller's clock (as in `InProcessCircuitBreakers`), so workers' clocks should
 * roughly agree; a skew of a second against a 30 s cooldown does not matter.
 *
 * Redis must never stand between the brain and its models: when a command fails or takes longer
 * than `timeoutMs`, calls are allowed (fail open), the failure is logged once per outage, and the
 * breakers pick up where they were when Redis answers again.
 */
import type { Redis } from 'ioredis';
import { AppError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { BreakerOptions, BreakerState, BreakerStatus, CircuitBreakers } from './breaker.js';

export interface RedisBreakerOptions extends BreakerOptions {
  /** How long a trial call may hold the half-open breaker before another may try, ms. @defaultValue cooldownMs */
  trialTtlMs?: number;
  /** A breaker command slower than this counts as Redis being down (fail open), ms. @defaultValue 500 */
  timeoutMs?: number;
  /** Told once when Redis stops answering, and when it answers again. */
  logger?: Logger;
}

/** KEYS: hash, trial. ARGV: now, cooldownMs, trialTtlMs. Returns 1 to admit the call. */
const ADMIT = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state or state == 'closed' then return 1 end
local now = tonumber(ARGV[1])
if state == 'open' then
  local opened = tonumber(redis.call('HGET', KEYS[1], 'opened_at')) or 0
  if now - opened < tonumber(ARGV[2]) then return 0 end
  redis.call('HSET', KEYS[1], 'state', 'half_open')
  redis.call('DEL', KEYS[2])
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[3]) then return 1 end
local started = tonumber(redis.call('GET', KEYS[2])) or now
if now - started >= tonumber(ARGV[3]) then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
  return 1
end
return 0`;

/** KEYS: hash, trial. ARGV: now, failureThreshold. Returns the failures counted. */
const FAILED = `
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'half_open' or failures >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', ARGV[1])
  redis.call('DEL', KEYS[2])
else
  redis.call('HSET', KEYS[1], 'state', state)
end
return failures`;

/** KEYS: hash, trial. Closes the breaker, writing only when it was not closed already. */
const SUCCEEDED = `
local h = redis.call('HMGET', KEYS[1], 'state', 'failures')
if (h[1] == false or h[1] == 'closed') and (h[2] == false or h[2] == '0') then return 0 end
redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', 0, 'opened_at', '')
redis.call('DEL', KEYS[2])
return 1`;

interface BreakerCommands {
  agenticBreakerAdmit(hash: string, trial: string, now: number, cooldownMs: number, trialTtlMs: number): Promise<number>;
  agenticBreakerFailed(hash: string, trial: string, now: number, threshold: number): Promise<number>;
  agenticBreakerSucceeded(hash: string, trial: string): Promise<number>;
}

/** Breakers held in Redis under `${prefix}:breaker:*`, shared by every process using the prefix. */
export class RedisCircuitBreakers implements CircuitBreakers {
  readonly #redis: Redis & BreakerCommands;
  readonly #now: () => number;
  readonly #trialTtlMs: number;
  readonly #timeoutMs: number;
  #down = false;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly options: RedisBreakerOptions,
  ) {
    redis.defineCommand('agenticBreakerAdmit', { numberOfKeys: 2, lua: ADMIT });
    redis.defineCommand('agenticBreakerFailed', { numberOfKeys: 2, lua: FAILED });
    redis.defineCommand('agenticBreakerSucceeded', { numberOfKeys: 2, lua: SUCCEEDED });
    this.#redis = redis as Redis & BreakerCommands;
    this.#now = options.now ?? Date.now;
    this.#trialTtlMs = Math.max(1, Math.round(options.trialTtlMs ?? options.cooldownMs));
    this.#timeoutMs = options.timeoutMs ?? 500;
  }

  async admit(key: string): Promise<boolean> {
    const { cooldownMs } = this.options;
    const admitted = await this.#guard(() => this.#redis.agenticBreakerAdmit(this.#hash(key), this.#trial(key), this.#now(), cooldownMs, this.#trialTtlMs), 1);
    return admitted === 1;
  }

  async succeeded(key: string): Promise<void> {
    await this.#guard(() => this.#redis.agenticBreakerSucceeded(this.#hash(key), this.#trial(key)), 0);
  }

  async failed(key: string): Promise<void> {
    await this.#guard(() => this.#redis.agenticBreakerFailed(this.#hash(key), this.#trial(key), this.#now(), this.options.failureThreshold), 0);
  }

  /** Reads every breaker in one round trip; with Redis down, reports them closed (calls are allowed). */
  async states(keys: readonly string[]): Promise<BreakerStatus[]> {
    const read = async () => {
      const pipeline = this.#redis.pipeline();
      for (const key of keys) pipeline.hmget(this.#hash(key), 'state', 'failures', 'opened_at');
      const results = (await pipeline.exec()) ?? [];
      return results.map(([err, fields], i) => {
        if (err) throw err;
        return statusOf(keys[i]!, fields as Array<string | null>);
      });
    };
    return this.#guard(read, keys.map((model) => statusOf(model, [])));
  }

  #hash(key: string): string {
    return `${this.prefix}:breaker:${key}`;
  }

  #trial(key: string): string {
    return `${this.#hash(key)}:trial`;
  }

  /** Runs a Redis command with a time limit; on failure, logs once per outage and returns `fallback`. */
  async #guard<T>(command: () => Promise<T>, fallback: T): Promise<T> {
    try {
      const value = await withTimeout(command(), this.#timeoutMs);
      if (this.#down) this.options.logger?.info('Circuit breakers: Redis answers again; breaker state is shared again');
      this.#down = false;
      return value;
    } catch (err) {
      if (!this.#down) this.options.logger?.warn({ err: (err as Error).message }, 'Circuit breakers: Redis unreachable; model calls are allowed (fail open) until it answers');
      this.#down = true;
      return fallback;
    }
  }
}

function statusOf(model: string, [state, failures, openedAt]: Array<string | null | undefined>): BreakerStatus {
  const s: BreakerState = state === 'open' || state === 'half_open' ? state : 'closed';
  return { model, state: s, failures: Number(failures ?? 0) || 0, opened_at: s === 'closed' || !openedAt ? null : Number(openedAt) };
}

/** Rejects when `promise` has not settled within `ms` (the command itself is left to finish). */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AppError('INTERNAL_ERROR', `Redis did not answer within ${ms} ms`, { details: { timeout_ms: ms } })), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
