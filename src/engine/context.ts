import type { Brain } from '../brains/types.js';
import type { Config } from '../config/index.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../observability/logger.js';
import type { Job, WorkQueue } from '../queue/types.js';
import type { Store, TaskRecord, TaskWriter } from '../store/types.js';
import type { ApprovalPolicy } from '../tools/approval-policy.js';
import type { ToolRegistry } from '../tools/registry.js';

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
  /** Which tool calls wait for a human (from AGENTIC_APPROVAL_RULES). */
  approvals: ApprovalPolicy;
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
  const o = task.options;
  return {
    maxSteps: Math.min(o.max_steps ?? config.maxSteps, config.maxSteps),
    maxIterations: Math.min(o.max_iterations ?? config.maxIterations, config.maxIterations),
    maxParallelSteps: Math.min(o.max_parallel_steps ?? config.maxParallelSteps, config.maxParallelSteps),
    timeoutMs: o.timeout_ms ?? config.taskTimeoutMs,
    retryAttempts: o.retry_attempts ?? config.retryAttempts,
    maxReplans: Math.min(o.max_replans ?? config.maxReplans, config.maxReplans),
    budgetTokens: o.budget_tokens ?? config.taskBudgetTokens,
    budgetUsd: o.budget_usd ?? config.taskBudgetUsd,
  };
}
