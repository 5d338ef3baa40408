/**
 * The `run_python` tool: runs a Python program in the bubblewrap sandbox (src/sandbox) with the
 * task's files read-only under /data, and turns the files it leaves in /work/outputs into task
 * artifacts. The program has no network, sees no host file outside the system libraries, and runs
 * under CPU, memory, process, file-size and wall-clock limits.
 *
 * Outcomes, all of them results rather than errors so the model can read them and fix its code:
 * a non-zero `exit_code` with the traceback in `stderr`; `limit` naming the limit that stopped the
 * run (with a one-line note appended to stderr). Errors are only for the tool itself:
 * SANDBOX_UNAVAILABLE (the sandbox cannot be set up, so nothing ran), FILE_NOT_FOUND (an unknown
 * file id) and RESOURCE_LIMIT (the files to mount are larger than allowed).
 */
import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import { z } from 'zod';
import { AppError } from '../errors.js';
import {
  DEFAULT_SANDBOX_LIMITS,
  SANDBOX_PATHS,
  Semaphore,
  assertSandboxAvailable,
  isPlainFileName,
  runInSandbox,
} from '../sandbox/index.js';
import type { OutputFile, SandboxFile, SandboxLimits, SandboxOptions, SandboxResult } from '../sandbox/index.js';
import type { Artifact, ToolContext, ToolDefinition } from './types.js';

/** Largest program accepted, in characters. */
export const MAX_PYTHON_CODE_CHARS = 100_000;

export interface RunPythonOptions {
  /** Python inside the sandbox (also runs the launcher). @defaultValue '/usr/bin/python3' */
  pythonPath?: string;
  /** @defaultValue '/usr/bin/bwrap' */
  bwrapPath?: string;
  /** Host uid/gid the sandbox runs as when the service is root. @defaultValue 65534 */
  hostUid?: number;
  hostGid?: number;
  /** Extra host paths mounted read-only, e.g. a virtualenv under /opt. */
  extraReadOnlyPaths?: string[];
  /** Host folder for per-run temp dirs; must be traversable by `hostUid`. @defaultValue os.tmpdir() */
  tempDir?: string;
  /** Overrides of the sandbox limits; `wallSeconds` is also the largest `timeout_s` a call may ask for. */
  limits?: Partial<SandboxLimits>;
  /** Total size of the files mounted under /data, in MiB. @defaultValue 100 */
  maxInputMb?: number;
  /** Runs at the same time; more calls wait. @defaultValue 2 */
  maxConcurrent?: number;
}

const limitSchema = z.enum(['wall_clock', 'cpu', 'memory', 'file_size', 'disk', 'processes', 'output']);
export type PythonLimit = z.infer<typeof limitSchema>;

export const runPythonInputSchema = z.object({
  code: z.string().min(1).max(MAX_PYTHON_CODE_CHARS).describe('The Python 3 program to run, as a file (print what you want to see).'),
  files: z
    .array(z.string().min(1).max(200))
    .max(20)
    .optional()
    .describe('Ids of uploaded files to mount read-only under /data, by their original name (see `files` in the result).'),
  timeout_s: z.number().positive().optional().describe('Wall-clock limit in seconds; at most the configured maximum.'),
});

const artifactSchema = z.object({
  name: z.string(),
  size: z.number().int().nonnegative(),
  sha256: z.string(),
  content_type: z.string(),
});

export const runPythonOutputSchema = z.object({
  exit_code: z.number().int().nullable().describe('Null when the program was killed.'),
  signal: z.string().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.boolean().describe('stdout or stderr was cut at the output cap.'),
  limit: limitSchema.nullable().describe('The sandbox limit that stopped the program, if any.'),
  duration_ms: z.number().int().nonnegative(),
  cpu_ms: z.number().int().nonnegative().nullable(),
  files: z.array(z.object({ file_id: z.string(), path: z.string() })),
  artifacts: z.array(artifactSchema),
  skipped_outputs: z.array(z.object({ name: z.string(), reason: z.string() })),
});

export type RunPythonInput = z.infer<typeof runPythonInputSchema>;
export type RunPythonOutput = z.infer<typeof runPythonOutputSchema>;

/** Environment of the program beyond the sandbox's PATH, HOME, LANG and TMPDIR. */
const PYTHON_ENV: Record<string, string> = {
  PYTHONDONTWRITEBYTECODE: '1',
  PYTHONIOENCODING: 'utf-8',
  MPLBACKEND: 'Agg',
  // One thread per BLAS pool: threads count against the process limit and the address space.
  OPENBLAS_NUM_THREADS: '1',
  OMP_NUM_THREADS: '1',
  MKL_NUM_THREADS: '1',
};

const CONTENT_TYPES: Record<string, string> = {
  '.csv': 'text/csv',
  '.tsv': 'text/tab-separated-values',
  '.txt': 'text/plain',
  '.md': 'text/markdown',
  '.json': 'application/json',
  '.html': 'text/html',
  '.xml': 'application/xml',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.pdf': 'application/pdf',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.parquet': 'application/vnd.apache.parquet',
  '.zip': 'application/zip',
};

/** A content type guessed from the file name's extension. */
export function contentTypeFor(name: string): string {
  return CONTENT_TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
}

function limitsOf(options: RunPythonOptions): SandboxLimits {
  return { ...DEFAULT_SANDBOX_LIMITS, ...options.limits };
}

function sandboxOptions(options: RunPythonOptions): SandboxOptions {
  const out: SandboxOptions = { pythonPath: options.pythonPath ?? '/usr/bin/python3' };
  if (options.bwrapPath !== undefined) out.bwrapPath = options.bwrapPath;
  if (options.hostUid !== undefined) out.hostUid = options.hostUid;
  if (options.hostGid !== undefined) out.hostGid = options.hostGid;
  if (options.extraReadOnlyPaths !== undefined) out.extraReadOnlyPaths = options.extraReadOnlyPaths;
  if (options.tempDir !== undefined) out.tempDir = options.tempDir;
  return out;
}

/** A mountable version of an uploaded file's name: one plain segment, unique among `taken`. */
export function mountName(original: string, fileId: string, taken: Set<string>): string {
  // No hidden names: a leading dot would hide the file from a plain `ls` and `..` must never appear.
  // eslint-disable-next-line no-control-regex
  let name = original.replace(/[/\\\u0000-\u001f\u007f]/g, '_').trim().replace(/^\.+/, '').slice(0, 150);
  if (!isPlainFileName(name)) name = fileId.replace(/[^A-Za-z0-9_-]/g, '_');
  const ext = extname(name);
  const stem = name.slice(0, name.length - ext.length);
  let candidate = name;
  for (let n = 2; taken.has(candidate); n += 1) candidate = `${stem}-${n}${ext}`;
  taken.add(candidate);
  return candidate;
}

interface Mounted {
  dataFiles: SandboxFile[];
  files: { file_id: string; path: string }[];
}

async function loadFiles(ids: string[], ctx: ToolContext, maxBytes: number): Promise<Mounted> {
  const taken = new Set<string>();
  const mounted: Mounted = { dataFiles: [], files: [] };
  let total = 0;
  for (const id of new Set(ids)) {
    const file = await ctx.files.read(id);
    total += file.data.length;
    if (total > maxBytes) {
      throw new AppError('RESOURCE_LIMIT', `The files to mount exceed ${Math.round(maxBytes / 1024 / 1024)} MiB in total`, {
        details: { tool: 'run_python', limit_mb: Math.round(maxBytes / 1024 / 1024) },
      });
    }
    const name = mountName(file.name, id, taken);
    mounted.dataFiles.push({ name, data: file.data });
    mounted.files.push({ file_id: id, path: `${SANDBOX_PATHS.data}/${name}` });
  }
  return mounted;
}

/** Python's own report of a limit in the last traceback line, for limits that raise instead of kill. */
function limitFromTraceback(stderr: string): PythonLimit | null {
  const last = stderr.trimEnd().split('\n').slice(-1)[0] ?? '';
  if (/^MemoryError\b/.test(last)) return 'memory';
  if (/\[Errno 27\] File too large/.test(last)) return 'file_size';
  if (/\[Errno 28\] No space left on device/.test(last)) return 'disk';
  if (/^BlockingIOError: \[Errno 11\] Resource temporarily unavailable/.test(last)) return 'processes';
  return null;
}

function limitNote(limit: PythonLimit, limits: SandboxLimits, wallSeconds: number): string {
  const notes: Record<PythonLimit, string> = {
    wall_clock: `wall-clock limit of ${wallSeconds} s reached; the program was killed`,
    cpu: `CPU time limit of ${limits.cpuSeconds} s reached; the program was killed`,
    memory: `memory limit of ${limits.memoryMb} MiB reached`,
    file_size: `file size limit of ${limits.fileSizeMb} MiB reached`,
    disk: `scratch space of ${limits.scratchMb} MiB in /work (and /tmp) is full`,
    processes: `process limit of ${limits.processes} reached`,
    output: `more than ${limits.killAfterOutputBytes} bytes of output; the program was killed`,
  };
  return `[sandbox] ${notes[limit]}.`;
}

async function storeArtifacts(outputs: OutputFile[], ctx: ToolContext): Promise<RunPythonOutput['artifacts']> {
  const artifacts: RunPythonOutput['artifacts'] = [];
  for (const output of outputs) {
    const contentType = contentTypeFor(output.name);
    const stored: Artifact = ctx.artifacts
      ? await ctx.artifacts.save(output.name, output.data, contentType)
      : {
          name: output.name,
          size: output.data.length,
          sha256: createHash('sha256').update(output.data).digest('hex'),
          content_type: contentType,
        };
    artifacts.push({ name: stored.name, size: stored.size, sha256: stored.sha256, content_type: stored.content_type });
  }
  return artifacts;
}

function describeRun(result: SandboxResult, limits: SandboxLimits, wallSeconds: number): Pick<RunPythonOutput, 'limit' | 'stderr'> {
  const limit: PythonLimit | null = result.limit ?? (result.exitCode ? limitFromTraceback(result.stderr) : null);
  const notes: string[] = [];
  if (limit) notes.push(limitNote(limit, limits, wallSeconds));
  if (result.supervisorLost && !result.limit) {
    notes.push('[sandbox] The sandbox supervisor was killed (did the program signal every process?); outputs were not collected.');
  }
  const stderr = notes.length === 0 ? result.stderr : `${result.stderr}${result.stderr && !result.stderr.endsWith('\n') ? '\n' : ''}${notes.join('\n')}`;
  return { limit, stderr };
}

/** Builds the `run_python` tool. Register it only after `assertRunPythonAvailable` has passed. */
export function createRunPythonTool(options: RunPythonOptions = {}): ToolDefinition<RunPythonInput, RunPythonOutput> {
  const limits = limitsOf(options);
  const sandbox = sandboxOptions(options);
  const maxInputBytes = (options.maxInputMb ?? 100) * 1024 * 1024;
  const gate = new Semaphore(options.maxConcurrent ?? 2);

  async function run(input: RunPythonInput, ctx: ToolContext): Promise<RunPythonOutput> {
    const wallSeconds = Math.min(input.timeout_s ?? limits.wallSeconds, limits.wallSeconds);
    const mounted = await loadFiles(input.files ?? [], ctx, maxInputBytes);
    const result = await gate.run(
      () =>
        runInSandbox(
          {
            argv: [sandbox.pythonPath as string, '-u', `${SANDBOX_PATHS.program}/main.py`],
            programFiles: [{ name: 'main.py', data: Buffer.from(input.code) }],
            dataFiles: mounted.dataFiles,
            env: PYTHON_ENV,
            limits: { ...limits, wallSeconds },
            signal: ctx.signal,
          },
          sandbox,
        ),
      ctx.signal,
    );
    const artifacts = await storeArtifacts(result.outputs, ctx);
    return {
      exit_code: result.exitCode,
      signal: result.signal,
      stdout: result.stdout,
      ...describeRun(result, limits, wallSeconds),
      truncated: result.stdoutTruncated || result.stderrTruncated,
      duration_ms: result.durationMs,
      cpu_ms: result.cpuMs,
      files: mounted.files,
      artifacts,
      skipped_outputs: result.skippedOutputs,
    };
  }

  return {
    name: 'run_python',
    description:
      'Runs a Python 3 program in an isolated sandbox and returns its exit code, stdout and stderr. pandas and numpy ' +
      'are available; there is no network access and no package installation. Files given in `files` are mounted ' +
      `read-only at ${SANDBOX_PATHS.data}/<original name>. The working directory is ${SANDBOX_PATHS.work} (scratch, ` +
      `${limits.scratchMb} MiB); files the program writes to ${SANDBOX_PATHS.outputs}/ become task artifacts. Limits: ` +
      `${limits.memoryMb} MiB of memory, ${limits.cpuSeconds} s of CPU, ${limits.wallSeconds} s of wall clock, ` +
      `${limits.fileSizeMb} MiB per file, ${limits.processes} processes; output is cut after ` +
      `${Math.round(limits.outputBytes / 1024)} KiB per stream. A failing program is a normal result: read stderr and fix the code.`,
    input: runPythonInputSchema,
    output: runPythonOutputSchema,
    // The sandbox's own wall clock fires first; this leaves room for start-up, queuing and artifact storage.
    timeoutMs: (limits.wallSeconds + 20) * 1000,
    effect: 'idempotent',
    run,
  };
}

/**
 * Throws SANDBOX_UNAVAILABLE, with the reason, unless the sandbox `createRunPythonTool(options)`
 * would use can really be set up on this host. Call at start-up; never register run_python when it throws.
 */
export async function assertRunPythonAvailable(options: RunPythonOptions = {}): Promise<void> {
  await assertSandboxAvailable(sandboxOptions(options));
}
