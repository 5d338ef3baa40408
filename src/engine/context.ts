import type { Brain } from '../brains/types.js';
import type { Config } from '../config/index.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../observability/logger.js';
import type { Job, WorkQueue } from '../queue/types.js';
import type { Store, TaskOptions, TaskRecord, TaskWriter } from '../store/types.js';
import type { ToolRegistry } from '../tools/registry.js';
import type { ToolPolicies } from './policies.js';

/** What the engine's parts share. Built once by the Engine; nothing here names a driver. */
export interface EngineContext {
  store: Store;
  bus: EventBus;
  queue: WorkQueue;
  brain: Brain;
  tools: ToolRegistry;
  config: Config;
  logger: Logger;
  /** This process's identity as a lease owner. */
  workerId: string;
  /** Which tool calls run, wait for a human, or are refused: the operator's and each tenant's tool policy. */
  policies: ToolPolicies;
  /** How approval requests expire. */
  approvals: ApprovalSettings;
}

export interface ApprovalSettings {
  /** How long a request waits for a decision, ms. */
  ttlMs: number;
  /** What an expired request becomes. */
  defaultDecision: 'approve' | 'reject';
  /** The principal whose call asked may not decide it (AGENTIC_APPROVAL_FOUR_EYES). */
  fourEyes: boolean;
}

/** Runs `fn` in one task transaction, then publishes the events it appended (persisted first, then published). */
export async function commit<T>(ctx: EngineContext, taskId: string, fn: (w: TaskWriter) => Promise<T>): Promise<T> {
  const { value, events } = await ctx.store.write(taskId, fn);
  if (events.length > 0) await ctx.bus.publish(events);
  return value;
}

/**
 * Hands jobs to the queue. A failure is logged, not thrown: the work is already committed in the
 * store, and the reconciler dispatches what the queue did not take.
 */
export async function dispatch(ctx: EngineContext, jobs: Job[]): Promise<void> {
  if (jobs.length === 0) return;
  try {
    await ctx.queue.enqueue(jobs);
  } catch (err) {
    ctx.logger.warn({ err: String(err), jobs: jobs.length }, 'could not dispatch jobs; the reconciler will');
  }
}

/** The limits that apply to a task: its own options where given, else the service's. */
export interface TaskLimits {
  maxSteps: number;
  maxIterations: number;
  maxParallelSteps: number;
  timeoutMs: number;
  retryAttempts: number;
  /** Revised plans allowed (see replanning.ts). */
  maxReplans: number;
  /** Hard token budget (input + output, all model calls), if any. */
  budgetTokens?: number;
  /** Hard cost budget, USD, if any. */
  budgetUsd?: number;
}

export function taskLimits(task: Pick<TaskRecord, 'options'>, config: Config): TaskLimits {
  const o = capOptions(task.options, config);
  return {
    maxSteps: o.max_steps ?? config.maxSteps,
    maxIterations: o.max_iterations ?? config.maxIterations,
    maxParallelSteps: o.max_parallel_steps ?? config.maxParallelSteps,
    timeoutMs: o.timeout_ms ?? config.taskTimeoutMs,
    retryAttempts: o.retry_attempts ?? config.retryAttempts,
    maxReplans: o.max_replans ?? config.maxReplans,
    budgetTokens: o.budget_tokens ?? config.taskBudgetTokens,
    budgetUsd: o.budget_usd ?? config.taskBudgetUsd,
  };
}

/**
 * The operator's maxima of what a caller may ask for. A budget's maximum is AGENTIC_TASK_MAX_BUDGET_*,
 * else the default budget itself: a caller may lower the operator's budget, never raise it.
 */
function optionMaxima(config: Config) {
  return {
    max_steps: config.maxSteps,
    max_iterations: config.maxIterations,
    max_parallel_steps: config.maxParallelSteps,
    timeout_ms: Math.max(config.taskMaxTimeoutMs, config.taskTimeoutMs),
    retry_attempts: Math.max(config.maxRetryAttempts, config.retryAttempts),
    max_replans: config.maxReplans,
    budget_tokens: config.taskMaxBudgetTokens ?? config.taskBudgetTokens,
    budget_usd: config.taskMaxBudgetUsd ?? config.taskBudgetUsd,
  } satisfies Record<string, number | undefined>;
}

/** A task's options with every limit a caller sent capped at the operator's maximum (the others kept as sent). */
export function capOptions(options: TaskOptions, config: Config): TaskOptions {
  const capped: TaskOptions = { ...options };
  for (const [key, max] of Object.entries(optionMaxima(config))) {
    const value = options[key];
    if (typeof value === 'number' && max !== undefined && value > max) capped[key] = max;
  }
  return capped;
}
