import { chmod, mkdir, mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { skipSandboxTests, sandboxCheck } from './__fixtures__/sandbox-available.js';
import { DEFAULT_SANDBOX_LIMITS, assertSandboxAvailable, checkSandbox, runInSandbox, sweepStaleRunDirs } from './bwrap.js';

const limits = { ...DEFAULT_SANDBOX_LIMITS, wallSeconds: 5, cpuSeconds: 3 };

describe('checkSandbox', () => {
  it('explains a missing bwrap', async () => {
    const check = await checkSandbox({ bwrapPath: '/nonexistent/bwrap' });
    expect(check).toEqual({ ok: false, reason: expect.stringContaining('bubblewrap not found') });
    await expect(assertSandboxAvailable({ bwrapPath: '/nonexistent/bwrap' })).rejects.toMatchObject({
      code: 'SANDBOX_UNAVAILABLE',
      message: expect.stringContaining('Code execution is disabled'),
    });
  });
});

describe('sweepStaleRunDirs', () => {
  it('deletes old run dirs left by a crash and keeps recent ones and other files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sweep-test-'));
    const old = join(dir, 'agentic-sandbox-old');
    await mkdir(join(old, 'data'), { recursive: true });
    const past = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(old, past, past);
    await mkdir(join(dir, 'agentic-sandbox-recent'));
    await mkdir(join(dir, 'unrelated'));
    await utimes(join(dir, 'unrelated'), past, past);
    expect(await sweepStaleRunDirs(dir)).toBe(1);
    expect((await readdir(dir)).sort()).toEqual(['agentic-sandbox-recent', 'unrelated']);
    await rm(dir, { recursive: true, force: true });
  });
});

describe.skipIf(skipSandboxTests)('runInSandbox', () => {
  let scratch: string;
  let savedTmp: string | undefined;

  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'sandbox-test-'));
    // The sandbox's host uid (nobody, when tests run as root) must be able to traverse it.
    await chmod(scratch, 0o711);
    savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = scratch;
  });

  afterEach(async () => {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
    await rm(scratch, { recursive: true, force: true });
  });

  it('works on this host', () => {
    expect(sandboxCheck).toMatchObject({ ok: true });
  });

  it('explains a temp folder the sandbox user cannot reach', async () => {
    if (process.getuid?.() !== 0) return;
    await chmod(scratch, 0o700);
    await expect(runInSandbox({ argv: ['/bin/true'], limits }, { tempDir: scratch })).rejects.toMatchObject({
      code: 'SANDBOX_UNAVAILABLE',
      message: expect.stringMatching(/cannot reach the temp folder/),
    });
    expect(await readdir(scratch)).toEqual([]);
  });

  it('says why the launcher Python does not run', async () => {
    const check = await checkSandbox({ pythonPath: '/nonexistent/python3' });
    expect(check.ok).toBe(false);
    expect(check.ok ? '' : check.reason).toMatch(/nonexistent\/python3/);
  });

  it('runs any command, reports its exit code and output, and deletes its temp dir', async () => {
    const result = await runInSandbox({ argv: ['/bin/sh', '-c', 'echo out; echo err >&2; exit 3'], limits });
    expect(result).toMatchObject({ exitCode: 3, signal: null, limit: null, stdout: 'out\n', stderr: 'err\n', supervisorLost: false });
    expect(await readdir(scratch)).toEqual([]);
  });

  it('reports a signal death', async () => {
    const result = await runInSandbox({ argv: ['/bin/sh', '-c', 'kill -TERM $$'], limits });
    expect(result).toMatchObject({ exitCode: null, signal: 'SIGTERM' });
  });

  it('exports regular output files and says why others were skipped', async () => {
    const result = await runInSandbox(
      {
        argv: ['/bin/sh', '-c', 'cd /work/outputs && printf 1,2 > a.csv && mkdir d && ln -s /etc/hostname link'],
        limits,
      },
      {},
    );
    expect(result.outputs.map((o) => [o.name, o.data.toString()])).toEqual([['a.csv', '1,2']]);
    expect(result.skippedOutputs).toEqual([
      { name: 'd', reason: 'not a regular file' },
      { name: 'link', reason: 'not a regular file' },
    ]);
  });

  it('mounts program and data files read-only', async () => {
    const result = await runInSandbox({
      argv: ['/bin/sh', '-c', 'cat /sandbox/p.txt /data/d.txt; echo x >> /data/d.txt || echo refused; touch /data/new /sandbox/new || echo refused'],
      programFiles: [{ name: 'p.txt', data: Buffer.from('program\n') }],
      dataFiles: [{ name: 'd.txt', data: Buffer.from('data\n') }],
      limits,
    });
    expect(result.stdout).toBe('program\ndata\nrefused\nrefused\n');
    expect(result.stderr).toMatch(/\/data\/new.*Read-only file system/);
    expect(result.stderr).toMatch(/\/sandbox\/new.*Read-only file system/);
  });

  it('kills the sandbox promptly when the signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const run = runInSandbox({ argv: ['/bin/sh', '-c', 'sleep 20'], limits: { ...limits, wallSeconds: 20 }, signal: controller.signal });
    setTimeout(() => controller.abort(new AppError('CANCELLED', 'stop')), 300);
    await expect(run).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await readdir(scratch)).toEqual([]);
  });

  it('refuses a relative argv[0] and unsafe file names', async () => {
    await expect(runInSandbox({ argv: ['sh'], limits })).rejects.toMatchObject({ code: 'INTERNAL_ERROR' });
    await expect(
      runInSandbox({ argv: ['/bin/true'], dataFiles: [{ name: '../x', data: Buffer.alloc(0) }], limits }),
    ).rejects.toMatchObject({ code: 'INTERNAL_ERROR' });
  });
});
