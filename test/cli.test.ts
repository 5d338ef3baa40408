/** The `agentic` command, run as a real process: in-process runs, and against a running service with --url. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killHard, startServiceProcess, type ServiceProcess } from './support/process.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'agentic-cli-'));

function agentic(args: string[], env: Record<string, string> = {}) {
  return run(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'silent', NO_COLOR: '1', ...env },
    timeout: 120_000,
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
  );
}

let service: ServiceProcess;
beforeAll(async () => {
  service = await startServiceProcess({ AGENTIC_DATA_DIR: join(dir, 'served') });
});
afterAll(async () => {
  if (service) await killHard(service);
  rmSync(dir, { recursive: true, force: true });
});

describe('agentic CLI', () => {
  it('runs a task in-process, showing per-step progress and the answer', async () => {
    const r = await agentic(['run', 'What is 15% of 2400 plus 12?'], { AGENTIC_DATA_DIR: join(dir, 'local') });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/plan v1: \d+ steps/);
    expect(r.stdout).toContain('analyst started');
    expect(r.stdout).toContain('calculator');
    expect(r.stdout).toContain('task completed');
    expect(r.stdout).toContain('372');
  });

  it('migrate reports an up-to-date schema on an existing data directory', async () => {
    const r = await agentic(['migrate'], { AGENTIC_DATA_DIR: join(dir, 'local') });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('up to date');
    const fresh = await agentic(['migrate'], { AGENTIC_DATA_DIR: join(dir, 'fresh') });
    expect(fresh.stdout).toContain('Applied migrations 1');
  });

  it('serves in local mode on loopback with no credentials, and says so in its ready line', () => {
    expect(service.output()).toMatch(/"auth":"local"[^\n]*auth: local \(this machine only/);
  });

  it('runs a task with a file against a running service and prints NDJSON with --json', async () => {
    const csv = join(dir, 'sales.csv');
    writeFileSync(csv, 'region,units\nnorth,5\nsouth,7\nnorth,3\n');
    const r = await agentic(['run', 'Analyze sales.csv by region', '--file', csv, '--url', service.url, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { seq: number; type: string; data: Record<string, unknown> });
    expect(events[0]?.type).toBe('task_created');
    expect(events.at(-1)?.type).toBe('task_completed');
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.some((e) => e.type === 'tool_call_started' && (e.data as { tool: string }).tool === 'data_profile')).toBe(true);
    expect(String(events.at(-1)?.data.final_output)).toContain('north');
  });

  it('lists, shows, follows and cancels tasks against a running service', async () => {
    const created = await fetch(`${service.url}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ task_description: 'Summarize the onboarding documents' }),
    }).then((res) => res.json() as Promise<{ task_id: string }>);
    const list = await agentic(['tasks', 'list', '--url', service.url]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain(created.task_id);
    const show = await agentic(['tasks', 'show', created.task_id, '--url', service.url, '--json']);
    expect(JSON.parse(show.stdout)).toMatchObject({ id: created.task_id, status: 'pending' });
    const cancel = await agentic(['tasks', 'cancel', created.task_id, '--url', service.url]);
    expect(cancel.stdout.trim()).toBe(`${created.task_id} cancelled`);
    const events = await agentic(['tasks', 'events', created.task_id, '--url', service.url]);
    const types = events.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { type: string }).type);
    expect(types).toEqual(['task_created', 'task_cancelled']);
    const missing = await agentic(['tasks', 'show', 'no-such-task', '--url', service.url]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('TASK_NOT_FOUND');
  });

  it('refuses a data directory that a running service owns', async () => {
    const r = await agentic(['tasks', 'list'], { AGENTIC_DATA_DIR: join(dir, 'served') });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('in use by process');
  });

  it('explains bad usage', async () => {
    expect((await agentic(['frobnicate'])).code).toBe(2);
    const r = await agentic(['run']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Give the task in quotes');
  });
});
