/**
 * DAG decisions over a task's steps, made inside the task's transaction: which steps may start,
 * which fail with a failed one, and what the final output is. Pure functions of the step list,
 * and `promoteSteps`, which applies the first.
 */
import type { StepRecord, StepStatus, TaskWriter } from '../store/types.js';

const FINAL: ReadonlySet<StepStatus> = new Set(['completed', 'failed', 'cancelled']);

export function isFinalStep(step: Pick<StepRecord, 'status'>): boolean {
  return FINAL.has(step.status);
}

/**
 * Steps to promote to ready: pending steps of plan `version` whose dependencies all completed (in any
 * version), in plan order, no more than the task's parallelism allows beside those already ready or running.
 */
function stepsToPromote(steps: StepRecord[], maxParallel: number, version: number): StepRecord[] {
  const status = new Map(steps.map((s) => [s.id, s.status]));
  const active = steps.filter((s) => s.status === 'ready' || s.status === 'running').length;
  const room = Math.max(0, maxParallel - active);
  return steps
    .filter((s) => s.status === 'pending' && s.plan_version === version && s.depends_on.every((d) => status.get(d) === 'completed'))
    .slice(0, room);
}

/** Marks the steps of the plan in force that may start now as ready; returns their ids, for dispatch after commit. */
export async function promoteSteps(w: TaskWriter, steps: StepRecord[], maxParallel: number): Promise<string[]> {
  const promote = stepsToPromote(steps, maxParallel, w.task.plan_version);
  const now = new Date().toISOString();
  for (const step of promote) await w.updateStep(step.id, { status: 'ready', ready_at: now });
  return promote.map((s) => s.id);
}

/** The steps of the plan in force (version `version`), delegated sub-tasks included. */
export function stepsInForce(steps: StepRecord[], version: number): StepRecord[] {
  return steps.filter((s) => s.plan_version === version);
}

/** Every step that depends on `stepId`, directly or through others (a manager depends on the sub-tasks it delegated). */
export function dependentsOf(steps: StepRecord[], stepId: string): Set<string> {
  const out = new Set<string>();
  const parent = new Map(steps.map((s) => [s.id, s.parent_id]));
  const frontier = [stepId];
  while (frontier.length > 0) {
    const id = frontier.pop()!;
    for (const s of steps) {
      if ((s.depends_on.includes(id) || parent.get(id) === s.id) && !out.has(s.id)) {
        out.add(s.id);
        frontier.push(s.id);
      }
    }
  }
  return out;
}

/**
 * The task's answer: the output of the plan's steps nothing depends on (usually the writer's).
 * Delegated sub-tasks are their manager's business: its output is what counts.
 */
export function finalOutput(steps: StepRecord[]): string {
  const planned = steps.filter((s) => s.parent_id === null);
  const needed = new Set(planned.flatMap((s) => s.depends_on));
  const sinks = planned.filter((s) => !needed.has(s.id) && s.output);
  if (sinks.length === 1) return sinks[0]!.output!.text;
  return sinks.map((s) => `## ${s.title}\n\n${s.output!.text}`).join('\n\n');
}

export function sinceMs(iso: string | null): number | null {
  return iso ? Math.max(0, Date.now() - Date.parse(iso)) : null;
}
