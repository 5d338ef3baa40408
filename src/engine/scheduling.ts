/**
 * DAG decisions over a task's steps, made inside the task's transaction: which steps may start,
 * which fail with a failed one, and what the final output is. Pure functions of the step list.
 */
import type { StepRecord, StepStatus } from '../store/types.js';

const FINAL: ReadonlySet<StepStatus> = new Set(['completed', 'failed', 'cancelled']);

export function isFinalStep(step: Pick<StepRecord, 'status'>): boolean {
  return FINAL.has(step.status);
}

/**
 * Steps to promote to ready: pending steps whose dependencies all completed, in plan order, no more
 * than the task's parallelism allows beside those already ready or running.
 */
export function stepsToPromote(steps: StepRecord[], maxParallel: number): StepRecord[] {
  const status = new Map(steps.map((s) => [s.id, s.status]));
  const active = steps.filter((s) => s.status === 'ready' || s.status === 'running').length;
  const room = Math.max(0, maxParallel - active);
  return steps
    .filter((s) => s.status === 'pending' && s.depends_on.every((d) => status.get(d) === 'completed'))
    .slice(0, room);
}

/** Every step that depends on `stepId`, directly or through others. */
export function dependentsOf(steps: StepRecord[], stepId: string): Set<string> {
  const out = new Set<string>();
  const frontier = [stepId];
  while (frontier.length > 0) {
    const id = frontier.pop()!;
    for (const s of steps) {
      if (s.depends_on.includes(id) && !out.has(s.id)) {
        out.add(s.id);
        frontier.push(s.id);
      }
    }
  }
  return out;
}

/** The task's answer: the output of the steps nothing depends on (usually the writer's). */
export function finalOutput(steps: StepRecord[]): string {
  const needed = new Set(steps.flatMap((s) => s.depends_on));
  const sinks = steps.filter((s) => !needed.has(s.id) && s.output);
  if (sinks.length === 1) return sinks[0]!.output!.text;
  return sinks.map((s) => `## ${s.title}\n\n${s.output!.text}`).join('\n\n');
}
