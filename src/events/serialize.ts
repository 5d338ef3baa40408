/** The one serializer of events for every transport. */
import type { TaskEvent } from './types.js';

/** An SSE frame: `id` is the seq (so Last-Event-ID resumes), `event` the type, `data` the JSON event. */
export function formatSse(event: TaskEvent): string {
  return `id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

export function formatNdjson(event: TaskEvent): string {
  return `${JSON.stringify(event)}\n`;
}

/** The event shape of the original `/tasks/{id}/execute` stream. */
export interface SeedEvent {
  event_type: 'step_started' | 'partial_output' | 'step_completed' | 'task_completed' | 'error';
  task_id: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/** Maps an event to the seed stream's five types; others are not part of that contract (null). */
export function toSeedEvent(event: TaskEvent): SeedEvent | null {
  const base = { task_id: event.task_id, timestamp: event.timestamp };
  switch (event.type) {
    case 'step_started':
      return { ...base, event_type: 'step_started', data: { step_id: event.step_id, description: event.data.description, agent: event.data.agent } };
    case 'partial_output':
      return { ...base, event_type: 'partial_output', data: { step_id: event.step_id, output: event.data.text } };
    case 'step_completed':
      return { ...base, event_type: 'step_completed', data: { step_id: event.step_id, status: 'completed', output: event.data.output } };
    case 'task_completed':
      return { ...base, event_type: 'task_completed', data: { status: 'completed', final_output: event.data.final_output } };
    case 'step_failed':
      return { ...base, event_type: 'error', data: { step_id: event.step_id, status: 'failed', error: event.data.error.message, code: event.data.error.code } };
    case 'task_failed':
      return { ...base, event_type: 'error', data: { status: 'failed', error: event.data.error.message, code: event.data.error.code } };
    case 'task_cancelled':
      return { ...base, event_type: 'error', data: { status: 'cancelled', error: event.data.reason, code: 'CANCELLED' } };
    default:
      return null;
  }
}
