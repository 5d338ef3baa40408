import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.js';
import { AppError } from '../errors.js';
import { HttpTaskClient, InProcessTaskClient, type TaskClient } from './client.js';
import { renderEvent } from './render.js';

/**
 * Opens the client a command asked for: HTTP with --url (or AGENTIC_URL), sending AGENTIC_API_KEY as its
 * credential when set, else in-process.
 */
export async function openClient(url: string | undefined): Promise<TaskClient> {
  const target = url ?? process.env.AGENTIC_URL;
  return target ? new HttpTaskClient(target, process.env.AGENTIC_API_KEY || undefined) : InProcessTaskClient.open(loadConfig());
}

/** `agentic run "task" [--file f]... [--url u] [--json]`: runs a task, showing its progress, then its answer. */
export async function commandRun(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { file: { type: 'string', multiple: true }, url: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const input = positionals.join(' ').trim();
  if (!input) throw new AppError('VALIDATION_ERROR', 'Give the task in quotes: agentic run "Summarize our onboarding documents"');
  const client = await openClient(values.url);
  try {
    const files = [];
    for (const path of values.file ?? []) files.push((await client.uploadFile(path)).id);
    const { id } = await client.createTask(input, files);
    let outcome = 'unknown';
    for await (const event of client.events(id)) {
      if (values.json) process.stdout.write(`${JSON.stringify(event)}\n`);
      else {
        const line = renderEvent(event);
        if (line) console.log(line);
      }
      if (event.type === 'task_completed') {
        outcome = 'completed';
        if (!values.json) console.log(`\n${event.data.final_output}`);
      } else if (event.type === 'task_failed' || event.type === 'task_cancelled') outcome = event.type;
    }
    return outcome === 'completed' ? 0 : 1;
  } finally {
    await client.close();
  }
}
