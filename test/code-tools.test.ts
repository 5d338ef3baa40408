/**
 * The code tools inside tasks: run_python in its sandbox reads the task's files and leaves
 * artifacts that the API serves; a host without a working sandbox gets no code tools (or, with
 * AGENTIC_SANDBOX=true, no service), never unsandboxed code.
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ScriptedBrain } from '../src/brains/scripted.js';
import type { Decision } from '../src/brains/types.js';
import { createApp } from '../src/compose.js';
import { loadConfig } from '../src/config/index.js';
import { call } from './support/http.js';
import { startTestServer, waitForTask, type TestServer } from './support/server.js';

const HAS_BWRAP = existsSync('/usr/bin/bwrap');
if (process.env.CI && !HAS_BWRAP) throw new Error('bubblewrap (/usr/bin/bwrap) is required in CI: apt-get install bubblewrap');

const CODE = [
  'import pandas as pd',
  'df = pd.read_csv("/data/sales.csv")',
  'totals = df.groupby("region")["amount"].sum().sort_index()',
  'totals.to_csv("/work/outputs/totals.csv")',
  'print(totals.to_dict())',
].join('\n');

const brain = new ScriptedBrain({
  plan: () => ({ rationale: 'code', steps: [{ id: 'py', agent: 'coder', title: 'Total by region', instruction: 'total', depends_on: [], tools: ['run_python'] }] }),
  decide: (req): Decision => {
    const ran = req.history.flatMap((h) => h.observations).find((o) => o.tool === 'run_python');
    if (!ran) return { type: 'tool_calls', calls: [{ tool: 'run_python', args: { code: CODE, files: req.task.files.map((f) => f.id) } }] };
    return { type: 'final', output: { text: ran.ok ? (ran.result as { stdout: string }).stdout.trim() : `failed: ${ran.error?.code}`, sources: [] } };
  },
});

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

describe.skipIf(!HAS_BWRAP)('run_python in a task', () => {
  it('analyses the task\'s file with pandas and serves what it wrote as an artifact', async () => {
    s = await startTestServer({ brain, config: { sandbox: 'true' } });
    const form = new FormData();
    form.append('file', new Blob(['region,amount\nnorth,10\nsouth,5\nnorth,7\n'], { type: 'text/csv' }), 'sales.csv');
    const file = (await (await fetch(`${s.url}/v1/files`, { method: 'POST', body: form })).json()) as { id: string };
    const { task } = await s.app.engine.submit({ tenantId: 'default', input: 'Total sales by region', files: [file.id], options: {}, start: true });
    expect(await waitForTask(s.app, task.id, 60_000)).toBe('completed');
    expect((await s.app.store.getTask(task.id))?.final_output).toBe("{'north': 17, 'south': 5}");

    const list = await call<{ items: Array<{ name: string; size: number; sha256: string; links: { content: string } }> }>(s.url, `/v1/tasks/${task.id}/artifacts`);
    expect(list.status).toBe(200);
    expect(list.body.items.map((a) => a.name)).toEqual(['totals.csv']);
    const content = await fetch(`${s.url}${list.body.items[0]!.links.content}`);
    expect(content.status).toBe(200);
    expect(content.headers.get('content-disposition')).toContain("filename*=UTF-8''totals.csv");
    expect(await content.text()).toBe('region,amount\nnorth,17\nsouth,5\n');
    // Another tenant sees neither the task nor its artifacts; an unknown name is a 404.
    expect((await call(s.url, `/v1/tasks/${task.id}/artifacts/totals.csv`, { headers: { 'x-act-as-tenant': 'other' } })).status).toBe(404);
    expect((await call(s.url, `/v1/tasks/${task.id}/artifacts/nope.csv`)).status).toBe(404);
  });
});

describe('a host where the sandbox cannot be set up', () => {
  const broken = { dataDir: ':memory:', logLevel: 'silent' as const, sandboxBwrapPath: '/nonexistent/bwrap' };

  it('offers no run_python with AGENTIC_SANDBOX=auto, and says why', async () => {
    const app = await createApp({ config: loadConfig({}, { ...broken, sandbox: 'auto' }) });
    try {
      expect(app.tools.has('run_python')).toBe(false);
      expect(app.tools.has('calculator')).toBe(true);
    } finally {
      await app.close(100);
    }
  });

  it('refuses to start with AGENTIC_SANDBOX=true', async () => {
    await expect(createApp({ config: loadConfig({}, { ...broken, sandbox: 'true' }) })).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE' });
  });
});
