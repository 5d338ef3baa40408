/**
 * Per-tenant quotas: unfinished tasks at once and tasks created per minute (checked when a task is
 * created, under a tenant lock in the creating transaction), and model tokens and USD per UTC day
 * (reserved before each model call exactly as task budgets are, so concurrent calls of one tenant on
 * any number of workers never pass the limit together). The service-wide settings apply to every
 * tenant; AGENTIC_TENANT_QUOTAS overrides them per tenant (null lifts a limit).
 */
import type { Config } from '../config/index.js';
import type { Admission } from '../store/types.js';

export interface TenantQuotas {
  maxTasks?: number;
  tasksPerMinute?: number;
  tokensPerDay?: number;
  usdPerDay?: number;
}

type QuotaSettings = Pick<Config, 'tenantMaxTasks' | 'tenantTasksPerMinute' | 'tenantTokensPerDay' | 'tenantUsdPerDay' | 'tenantQuotas'>;

export function quotasFor(config: QuotaSettings, tenantId: string): TenantQuotas {
  const o = config.tenantQuotas[tenantId] ?? {};
  const pick = <T>(own: T | null | undefined, fallback: T | undefined): T | undefined => (own === null ? undefined : (own ?? fallback));
  return {
    maxTasks: pick(o.max_tasks, config.tenantMaxTasks),
    tasksPerMinute: pick(o.tasks_per_minute, config.tenantTasksPerMinute),
    tokensPerDay: pick(o.tokens_per_day, config.tenantTokensPerDay),
    usdPerDay: pick(o.usd_per_day, config.tenantUsdPerDay),
  };
}

/** The admission limits of a tenant's new tasks, or undefined when it has none (nothing is locked or counted). */
export function admissionOf(q: TenantQuotas): Admission | undefined {
  if (q.maxTasks === undefined && q.tasksPerMinute === undefined) return undefined;
  return { maxTasks: q.maxTasks, perMinute: q.tasksPerMinute };
}
