import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout; every line carries the ids it concerns (task_id, step_id …). */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { service: 'agentic', ...bindings }, timestamp: pino.stdTimeFunctions.isoTime });
}
