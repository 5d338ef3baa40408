import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { skipSandboxTests } from '../sandbox/__fixtures__/sandbox-available.js';
import { ToolRegistry } from './registry.js';
import { assertRunPythonAvailable, contentTypeFor, createRunPythonTool, mountName } from './run-python.js';
import type { RunPythonOutput } from './run-python.js';
import type { Artifact, ArtifactSink, ToolContext } from './types.js';
import { memoryFiles, toolContext } from '../../test/support/tool-context.js';

function memorySink(): ArtifactSink & { saved: Map<string, { data: Buffer; contentType: string }> } {
  const saved = new Map<string, { data: Buffer; contentType: string }>();
  return {
    saved,
    async save(name, data, contentType): Promise<Artifact> {
      saved.set(name, { data, contentType });
      return { name, content_type: contentType, size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
    },
  };
}

const tool = createRunPythonTool({ limits: { wallSeconds: 10, cpuSeconds: 5, memoryMb: 512 } });
const registry = new ToolRegistry().register(tool);

function invoke(input: unknown, ctx: ToolContext = toolContext()): Promise<RunPythonOutput> {
  return registry.invoke('run_python', input, ctx) as Promise<RunPythonOutput>;
}

describe('run_python definition', () => {
  it('declares an idempotent tool whose timeout covers the sandbox wall clock', () => {
    expect(tool.name).toBe('run_python');
    expect(tool.effect).toBe('idempotent');
    expect(tool.timeoutMs).toBeGreaterThan(10_000);
    expect(tool.description).toMatch(/\/data/);
    expect(tool.description).toMatch(/\/work\/outputs/);
  });

  it('rejects empty and oversized code before running anything', async () => {
    await expect(invoke({ code: '' })).rejects.toMatchObject({ code: 'TOOL_INPUT_INVALID' });
    await expect(invoke({ code: 'x'.repeat(100_001) })).rejects.toMatchObject({ code: 'TOOL_INPUT_INVALID' });
    await expect(invoke({ code: 'print(1)', timeout_s: -1 })).rejects.toMatchObject({ code: 'TOOL_INPUT_INVALID' });
  });

  it('fails SANDBOX_UNAVAILABLE at start-up check when bwrap is missing', async () => {
    await expect(assertRunPythonAvailable({ bwrapPath: '/nonexistent/bwrap' })).rejects.toMatchObject({
      code: 'SANDBOX_UNAVAILABLE',
    });
  });
});

describe('mountName and contentTypeFor', () => {
  it('keeps plain names, replaces separators and control characters, and de-duplicates', () => {
    const taken = new Set<string>();
    expect(mountName('sales.csv', 'f1', taken)).toBe('sales.csv');
    expect(mountName('sales.csv', 'f2', taken)).toBe('sales-2.csv');
    expect(mountName('../../etc/passwd', 'f3', taken)).toBe('_.._etc_passwd');
    expect(mountName('a\nb.txt', 'f4', taken)).toBe('a_b.txt');
    expect(mountName('..', 'file_5', taken)).toBe('file_5');
    expect(mountName('.bashrc', 'file_6', taken)).toBe('bashrc');
    expect(mountName('', 'file.7', taken)).toBe('file_7');
  });

  it('guesses content types from the extension', () => {
    expect(contentTypeFor('a.CSV')).toBe('text/csv');
    expect(contentTypeFor('chart.png')).toBe('image/png');
    expect(contentTypeFor('blob')).toBe('application/octet-stream');
  });
});

describe.skipIf(skipSandboxTests)('run_python in the sandbox', () => {
  it('passes the start-up check on this host', async () => {
    await expect(assertRunPythonAvailable()).resolves.toBeUndefined();
  });

  it('runs a program and returns its output', async () => {
    const out = await invoke({ code: 'import sys\nprint("hello", 6 * 7)\nprint("warn", file=sys.stderr)' });
    expect(out).toMatchObject({ exit_code: 0, signal: null, stdout: 'hello 42\n', stderr: 'warn\n', truncated: false, limit: null });
    expect(out.duration_ms).toBeGreaterThan(0);
    expect(out.cpu_ms).toBeGreaterThanOrEqual(0);
    expect(out.artifacts).toEqual([]);
  });

  it('returns a failing program as a result with its traceback', async () => {
    const out = await invoke({ code: 'def f():\n    return 1 / 0\nf()' });
    expect(out.exit_code).toBe(1);
    expect(out.limit).toBeNull();
    expect(out.stderr).toMatch(/ZeroDivisionError: division by zero/);
    expect(out.stderr).toMatch(/main\.py", line 2/);
  });

  it('mounts files under /data by name and analyses them with pandas', async () => {
    const files = memoryFiles({
      f1: { name: 'sales.csv', data: 'region,units\nnorth,10\nsouth,5\nnorth,7\n' },
      f2: { name: 'sales.csv', data: 'region,units\neast,1\n' },
    });
    const out = await invoke(
      {
        code: [
          'import pandas as pd',
          'df = pd.read_csv("/data/sales.csv")',
          'print(df.groupby("region")["units"].sum().to_dict())',
          'print(open("/data/sales-2.csv").read().splitlines()[1])',
        ].join('\n'),
        files: ['f1', 'f2'],
      },
      toolContext({ files }),
    );
    expect(out.stderr).toBe('');
    expect(out.stdout).toBe("{'north': 17, 'south': 5}\neast,1\n");
    expect(out.files).toEqual([
      { file_id: 'f1', path: '/data/sales.csv' },
      { file_id: 'f2', path: '/data/sales-2.csv' },
    ]);
  });

  it('fails FILE_NOT_FOUND for an unknown file id', async () => {
    await expect(invoke({ code: 'print(1)', files: ['missing'] })).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });

  it('refuses files larger than the input allowance with RESOURCE_LIMIT', async () => {
    const small = createRunPythonTool({ maxInputMb: 0.001 });
    const files = memoryFiles({ big: { name: 'big.txt', data: 'x'.repeat(5000) } });
    await expect(small.run({ code: 'print(1)', files: ['big'] }, toolContext({ files }))).rejects.toMatchObject({
      code: 'RESOURCE_LIMIT',
    });
  });

  it('stores files written to /work/outputs as artifacts', async () => {
    const sink = memorySink();
    const out = await invoke(
      {
        code: [
          'import json, os',
          'open("/work/outputs/summary.json", "w").write(json.dumps({"ok": True}))',
          'open("/work/outputs/table.csv", "w").write("a,b\\n1,2\\n")',
          'open("/work/scratch.txt", "w").write("not exported")',
          'print(os.getcwd())',
        ].join('\n'),
      },
      toolContext({ artifacts: sink }),
    );
    expect(out.stdout).toBe('/work\n');
    expect(out.artifacts).toEqual([
      {
        name: 'summary.json',
        size: 12,
        sha256: createHash('sha256').update('{"ok": true}').digest('hex'),
        content_type: 'application/json',
      },
      { name: 'table.csv', size: 8, sha256: createHash('sha256').update('a,b\n1,2\n').digest('hex'), content_type: 'text/csv' },
    ]);
    expect(sink.saved.get('table.csv')?.data.toString()).toBe('a,b\n1,2\n');
    expect(sink.saved.has('scratch.txt')).toBe(false);
  });

  it('describes artifacts without storing them when the context has no sink', async () => {
    const out = await invoke({ code: 'open("/work/outputs/a.txt", "w").write("abc")' });
    expect(out.artifacts).toEqual([
      { name: 'a.txt', size: 3, sha256: createHash('sha256').update('abc').digest('hex'), content_type: 'text/plain' },
    ]);
  });

  it('honours timeout_s and reports the wall-clock limit', async () => {
    const started = Date.now();
    const out = await invoke({ code: 'import time\nprint("before", flush=True)\ntime.sleep(60)', timeout_s: 1 });
    expect(out.limit).toBe('wall_clock');
    expect(out.exit_code).toBeNull();
    expect(out.signal).toBe('SIGKILL');
    expect(out.stdout).toBe('before\n');
    expect(out.stderr).toMatch(/\[sandbox\] wall-clock limit of 1 s/);
    expect(Date.now() - started).toBeLessThan(6000);
  });

  it('names a memory error as the memory limit', async () => {
    const out = await invoke({ code: 'x = bytearray(2 * 1024 ** 3)' });
    expect(out.exit_code).toBe(1);
    expect(out.limit).toBe('memory');
    expect(out.stderr).toMatch(/MemoryError/);
    expect(out.stderr).toMatch(/\[sandbox\] memory limit of 512 MiB/);
  });

  it('truncates long output and says so', async () => {
    const out = await invoke({ code: 'print("y" * 200_000)' });
    expect(out.truncated).toBe(true);
    expect(out.stdout.length).toBeLessThan(70 * 1024);
    expect(out.stdout).toMatch(/\[output truncated: \d+ more bytes not shown\]$/);
  });

  it('stops the run when the caller aborts, and still deletes its temp dir', async () => {
    const tempDir = await mkdtemp(join(tmpdir(), 'run-python-abort-'));
    await chmod(tempDir, 0o711);
    const own = new ToolRegistry().register(createRunPythonTool({ tempDir }));
    const controller = new AbortController();
    const started = Date.now();
    const run = own.invoke('run_python', { code: 'import time\ntime.sleep(60)' }, toolContext({ signal: controller.signal }));
    setTimeout(() => controller.abort(new AppError('CANCELLED', 'user cancelled')), 300);
    await expect(run).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(Date.now() - started).toBeLessThan(5000);
    // The registry answers at once; the tool kills the sandbox and cleans up right after.
    await expect.poll(() => readdir(tempDir), { timeout: 5000 }).toEqual([]);
    await rm(tempDir, { recursive: true, force: true });
  });
});
