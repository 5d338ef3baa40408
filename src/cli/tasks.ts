import { parseArgs } from 'node:util';
import { AppError } from '../errors.js';
import type { TaskStatus } from '../store/types.js';
import { renderEvent } from './render.js';
import { openClient } from './run.js';

/** `agentic tasks list|show|events|cancel`. */
export async function commandTasks(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      json: { type: 'boolean', default: false },
      status: { type: 'string' },
      limit: { type: 'string', default: '20' },
    },
  });
  const [sub, id] = positionals;
  const needId = () => {
    if (!id) throw new AppError('VALIDATION_ERROR', `agentic tasks ${sub} needs a task id`);
    return id;
  };
  if (!sub || !['list', 'show', 'events', 'cancel'].includes(sub)) {
    throw new AppError('VALIDATION_ERROR', 'Use: agentic tasks list|show|events|cancel');
  }
  const client = await openClient(values.url);
  try {
    switch (sub) {
      case 'list': {
        const status = values.status ? (values.status.split(',') as TaskStatus[]) : undefined;
        const tasks = await client.listTasks(status, Number(values.limit));
        if (values.json) console.log(JSON.stringify(tasks, null, 2));
        else for (const t of tasks) console.log(`${t.id}  ${t.status.padEnd(10)} ${t.created_at}  ${t.input.slice(0, 60)}`);
        return 0;
      }
      case 'show': {
        const task = await client.getTask(needId());
        if (values.json) console.log(JSON.stringify(task, null, 2));
        else printTask(task);
        return 0;
      }
      case 'events': {
        for await (const event of client.events(needId())) {
          if (values.json || !process.stdout.isTTY) console.log(JSON.stringify(event));
          else console.log(renderEvent(event) ?? `${event.seq} ${event.type}`);
        }
        return 0;
      }
      default: {
        const r = await client.cancel(needId());
        console.log(values.json ? JSON.stringify(r) : `${r.id} ${r.status}`);
        return 0;
      }
    }
  } finally {
    await client.close();
  }
}

function printTask(task: Awaited<ReturnType<Awaited<ReturnType<typeof openClient>>['getTask']>>): void {
  console.log(`${task.id}  ${task.status}  (brain: ${task.brain ?? '-'})`);
  console.log(`input: ${task.input}`);
  for (const s of task.steps) {
    console.log(`  ${s.id} ${s.agent.padEnd(10)} ${s.status.padEnd(9)} attempts=${s.attempts} ${s.duration_ms ?? '-'} ms  ${s.title}`);
  }
  if (task.error) console.log(`error: ${task.error.code} ${task.error.message}`);
  if (task.final_output) console.log(`\n${task.final_output}`);
}
