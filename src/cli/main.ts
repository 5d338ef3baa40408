#!/usr/bin/env node
/**
 * The `agentic` command: serve, worker, migrate, run, tasks.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.js';
import { AppError } from '../errors.js';
import { commandKeys } from './keys.js';
import { commandMigrate } from './migrate.js';
import { commandRun } from './run.js';
import { serve } from './serve.js';
import { commandTasks } from './tasks.js';

const USAGE = `Usage: agentic <command> [options]

Commands:
  serve [--role all|api|worker]   Run the service (HTTP API and worker; embedded unless DATABASE_URL is set)
  worker                          Run only the worker side (same as serve --role worker)
  migrate                         Apply database migrations and exit
  run "task" [--file data.csv]... Run a task and show its progress (in-process, or against --url)
        [--url http://host:port] [--json]
  tasks list [--status s] [--limit n] [--url ...] [--json]
  tasks show <id> [--url ...] [--json]
  tasks events <id> [--url ...]   Print a task's events as NDJSON (follows until the task ends)
  tasks cancel <id> [--url ...]
  keys create --tenant T --role R [--name N] [--expires 30d] [--json]
                                  Make an API key (works on the database directly; shown once)
  keys list [--tenant T] [--json]
  keys revoke <id>

Against a service in authenticated mode, run and tasks send AGENTIC_API_KEY as the bearer credential.

Settings come from the environment (PORT, HOST, AGENTIC_DATA_DIR, DATABASE_URL, ...); see docs/operations.md.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
    case 'worker': {
      const { values } = parseArgs({ args: rest, options: { role: { type: 'string' } }, allowPositionals: false });
      const role = command === 'worker' ? 'worker' : (values.role ?? 'all');
      if (role !== 'all' && role !== 'api' && role !== 'worker') throw new AppError('VALIDATION_ERROR', `Unknown role "${role}"; use all, api or worker`);
      await serve(loadConfig(), role, { handleSignals: true });
      return -1; // keep running
    }
    case 'migrate':
      return commandMigrate(loadConfig());
    case 'run':
      return commandRun(rest);
    case 'tasks':
      return commandTasks(rest);
    case 'keys':
      return commandKeys(loadConfig(), rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 1 : 0;
    default:
      console.error(`Unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    const message = err instanceof AppError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
    console.error(`agentic: ${message}`);
    process.exit(1);
  },
);
