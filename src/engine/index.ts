/**
 * The engine: task lifecycle, planning, DAG scheduling, the agent loop, retries and limits.
 *
 * Glossary
 * - Task: what a user asked for, in plain language, with its files and options. States:
 *   pending → planning → running → completed | failed | cancelled; running ⇄ awaiting_approval while a
 *   tool call waits for a person; running → planning while the plan is revised.
 * - Plan: the brain's proposal for a task: a DAG of steps. Versioned; a re-plan adds a version.
 * - Step: one node of the plan, given to one agent (researcher, analyst, writer …). It runs when
 *   its dependencies completed, under a lease held by one worker at a time.
 * - Attempt: one try at a step. A retryable failure starts the next attempt after a backoff.
 * - Turn: one round of a step's agent loop: the brain decides (tool calls or a final
 *   output), the tools run, the results are observed. Each turn is journaled before the next starts.
 * - Lease: a worker's claim on a running step (owner, expiry, heartbeat). An expired lease may be
 *   taken over; writes by a worker that lost its lease change nothing.
 * - Event: a persisted record of something that happened, numbered by seq per task with no gaps,
 *   committed with the state change it announces and published only after that.
 */
export { Engine, type EngineDeps, type WorkerOptions } from './engine.js';
export { taskLimits, type EngineContext, type TaskLimits } from './context.js';
export { planProblems, validatePlan } from './plan-validation.js';
export { backoffDelay } from './retry.js';
