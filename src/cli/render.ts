/** Terminal rendering of a task's events: one line per step change and tool call, then the answer. */
import type { TaskEvent } from '../events/index.js';

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: string, s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
const dim = (s: string) => paint('2', s);
const green = (s: string) => paint('32', s);
const red = (s: string) => paint('31', s);
const bold = (s: string) => paint('1', s);

function short(value: unknown, max = 80): string {
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** The line for an event, or null for events shown elsewhere (partial output, the final answer). */
export function renderEvent(e: TaskEvent): string | null {
  const step = e.step_id ? `[${e.step_id}] ` : '';
  switch (e.type) {
    case 'task_created':
      return dim(`task ${e.task_id} created`);
    case 'planning_started':
      return dim(`planning (brain: ${e.data.brain})…`);
    case 'plan_created':
      return [
        bold(`plan v${e.data.version}: ${e.data.steps.length} steps`) + dim(` — ${e.data.rationale}`),
        ...e.data.steps.map((s) => `  ${s.id} ${s.agent.padEnd(10)} ${s.title}${s.depends_on.length ? dim(` (after ${s.depends_on.join(', ')})`) : ''}`),
      ].join('\n');
    case 'step_started':
      return `${step}${bold(e.data.agent)} started: ${e.data.title}`;
    case 'tool_call_started':
      return dim(`${step}  → ${e.data.tool} ${short(e.data.args)}`);
    case 'tool_call_completed':
      return e.data.ok ? dim(`${step}  ✓ ${e.data.tool} (${e.data.duration_ms} ms)`) : red(`${step}  ✗ ${e.data.tool}: ${e.data.error?.message ?? 'failed'}`);
    case 'step_retrying':
      return red(`${step}attempt ${e.data.attempt} failed (${e.data.error.code}); retrying in ${e.data.delay_ms} ms`);
    case 'step_completed':
      return green(`${step}completed in ${e.data.duration_ms} ms`);
    case 'step_failed':
      return red(`${step}failed: ${e.data.error.code} ${e.data.error.message}`);
    case 'task_resumed':
      return dim(`resumed: ${e.data.reason}`);
    case 'task_completed':
      return green(bold(`task completed in ${e.data.duration_ms} ms`));
    case 'task_failed':
      return red(bold(`task failed: ${e.data.error.code} ${e.data.error.message}`));
    case 'task_cancelled':
      return red(bold(`task cancelled: ${e.data.reason}`));
    default:
      return null;
  }
}
