/**
 * Runs a command in a bubblewrap sandbox. Each run gets:
 * - new user, mount, PID, network, IPC, UTS and cgroup namespaces; no capabilities; no further
 *   user namespaces (`--disable-userns`); a new session (no controlling terminal to inject into);
 * - when the service runs as root, a separate unprivileged host uid (default 65534) for bwrap and
 *   everything under it, so no sandboxed process is host root even in name, and RLIMIT_NPROC,
 *   which the kernel never enforces for root, holds;
 * - a filesystem of read-only system paths (/usr and the /bin, /lib… links or folders), a few
 *   /etc files the runtime needs plus synthetic passwd/group/hosts, fresh /proc and /dev, size-limited
 *   tmpfs at /work (the working directory, with /work/outputs) and /tmp, the task's files read-only
 *   at /data and the program read-only at /sandbox. Nothing else of the host is visible;
 * - an empty network namespace (only its own loopback), so no host service and no outside address
 *   is reachable, and no DNS;
 * - a seccomp filter (see seccomp.ts) and resource limits set inside by the launcher (launcher.ts).
 *
 * A fresh host temp dir holds the run's inputs and is always deleted afterwards. The host keeps a
 * wall-clock backstop and kills the whole process group on timeout, abort or runaway output.
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, chown, lstat, mkdir, mkdtemp, readlink, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { AppError } from '../errors.js';
import { CappedOutput } from './capped-output.js';
import { LAUNCHER_SOURCE } from './launcher.js';
import { parseLauncherReport } from './report.js';
import type { OutputFile, SandboxLimitName, SkippedOutput } from './report.js';
import { buildSeccompFilter, currentSeccompArch } from './seccomp.js';

/** Resource limits of one run. */
export interface SandboxLimits {
  /** Address space of each process (RLIMIT_AS) and the sum of resident memory of all of them, in MiB. */
  memoryMb: number;
  /** CPU time of the command (RLIMIT_CPU), in seconds. */
  cpuSeconds: number;
  /** Wall-clock time, in seconds; the launcher kills everything when it passes. */
  wallSeconds: number;
  /** Processes and threads of the sandbox uid (RLIMIT_NPROC). */
  processes: number;
  /** Largest file the command may write (RLIMIT_FSIZE), in MiB. */
  fileSizeMb: number;
  /** Size of each of the /work and /tmp tmpfs, in MiB. */
  scratchMb: number;
  /** Open file descriptors per process (RLIMIT_NOFILE). */
  openFiles: number;
  /** Bytes of stdout and of stderr kept for the result; the rest is counted and dropped. */
  outputBytes: number;
  /** Total stdout+stderr bytes after which the run is killed as runaway output. */
  killAfterOutputBytes: number;
  /** Files exported from /work/outputs. */
  maxOutputFiles: number;
  /** Total bytes exported from /work/outputs, in MiB. */
  maxOutputMb: number;
}

/** Limits for a sandbox of modest size; tools pass their own. */
export const DEFAULT_SANDBOX_LIMITS: Readonly<SandboxLimits> = Object.freeze({
  memoryMb: 512,
  cpuSeconds: 10,
  wallSeconds: 30,
  processes: 64,
  fileSizeMb: 16,
  scratchMb: 64,
  openFiles: 256,
  outputBytes: 64 * 1024,
  killAfterOutputBytes: 8 * 1024 * 1024,
  maxOutputFiles: 20,
  maxOutputMb: 32,
});

/** How to reach bubblewrap and who to run it as. */
export interface SandboxOptions {
  /** @defaultValue '/usr/bin/bwrap' */
  bwrapPath?: string;
  /** Python that runs the launcher inside the sandbox; it must live under a mounted system path. @defaultValue '/usr/bin/python3' */
  pythonPath?: string;
  /** Host uid and gid that bwrap runs as when the service is root; ignored otherwise. @defaultValue 65534 (nobody) */
  hostUid?: number;
  hostGid?: number;
  /** Extra host paths mounted read-only at the same place, e.g. a Python installed under /opt. */
  extraReadOnlyPaths?: string[];
  /**
   * Host folder for the per-run temp dirs; when the service is root it must be traversable by
   * `hostUid` (like /tmp). @defaultValue os.tmpdir()
   */
  tempDir?: string;
}

/** A file placed in the sandbox. */
export interface SandboxFile {
  /** A plain file name (no slashes). */
  name: string;
  data: Buffer;
}

export interface SandboxRequest {
  /** The command inside the sandbox, argv[0] an absolute path, e.g. ['/usr/bin/python3', '-u', '/sandbox/main.py']. */
  argv: string[];
  /** Written read-only to /sandbox (the program). */
  programFiles?: SandboxFile[];
  /** Written read-only to /data (the task's files). */
  dataFiles?: SandboxFile[];
  /** Added to the minimal environment (PATH, HOME, LANG, TMPDIR). */
  env?: Record<string, string>;
  limits: SandboxLimits;
  /** Aborting kills the sandbox at once; the run then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface SandboxResult {
  /** The command's exit code; null when it was ended by a signal or the sandbox was torn down. */
  exitCode: number | null;
  /** The signal that ended the command, e.g. 'SIGKILL'. */
  signal: string | null;
  /** The limit that stopped the run, if one did. */
  limit: SandboxLimitName | null;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  durationMs: number;
  cpuMs: number | null;
  /** Regular files found in /work/outputs after the run. */
  outputs: OutputFile[];
  skippedOutputs: SkippedOutput[];
  /**
   * True when the launcher's report is missing or damaged: the code killed its own supervisor, or
   * the host had to tear the sandbox down. Outputs are then not exported.
   */
  supervisorLost: boolean;
}

/** Paths inside the sandbox. */
export const SANDBOX_PATHS = Object.freeze({
  work: '/work',
  outputs: '/work/outputs',
  data: '/data',
  program: '/sandbox',
});

const SANDBOX_UID = 1000;
const SECCOMP_FD = 3;
const REPORT_FD = 4;
const ARGS_FD = 5;
/** How long past the wall clock the host waits for the launcher before tearing the sandbox down. */
const HOST_GRACE_MS = 3000;

const SYSTEM_PATHS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/** Host /etc entries the runtime reads; absent ones are skipped. */
const ETC_PATHS = [
  '/etc/alternatives',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/localtime',
  '/etc/mime.types',
  '/etc/fonts',
  '/etc/matplotlibrc',
  '/etc/python3',
  '/etc/os-release',
];

const SYNTHETIC_ETC: Record<string, string> = {
  passwd: `root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nsandbox:x:${SANDBOX_UID}:${SANDBOX_UID}:sandbox:/work:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
  group: `root:x:0:\nsandbox:x:${SANDBOX_UID}:\nnogroup:x:65534:\n`,
  hosts: '127.0.0.1 localhost\n::1 localhost\n',
  hostname: 'sandbox\n',
  'nsswitch.conf': 'passwd: files\ngroup: files\nhosts: files\n',
};

const BASE_ENV: Record<string, string> = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: SANDBOX_PATHS.work,
  LANG: 'C.UTF-8',
  TMPDIR: '/tmp',
};

interface ResolvedOptions {
  bwrapPath: string;
  pythonPath: string;
  hostUser: { uid: number; gid: number } | null;
  extraReadOnlyPaths: string[];
  tempDir: string;
}

function resolveOptions(options: SandboxOptions): ResolvedOptions {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return {
    bwrapPath: options.bwrapPath ?? '/usr/bin/bwrap',
    pythonPath: options.pythonPath ?? '/usr/bin/python3',
    hostUser: isRoot ? { uid: options.hostUid ?? 65534, gid: options.hostGid ?? 65534 } : null,
    extraReadOnlyPaths: options.extraReadOnlyPaths ?? [],
    tempDir: options.tempDir ?? tmpdir(),
  };
}

// ---------------------------------------------------------------------------------------------
// The run directory on the host

interface RunDir {
  root: string;
  program: string;
  data: string;
  etc: string;
}

async function writeFiles(dir: string, files: SandboxFile[]): Promise<void> {
  await mkdir(dir, { mode: 0o700 });
  for (const file of files) await writeFile(join(dir, file.name), file.data, { mode: 0o444, flag: 'wx' });
}

/** Gives the whole tree to the sandbox's host user, so bwrap running as that user can mount it. */
async function chownTree(path: string, user: { uid: number; gid: number }): Promise<void> {
  await chown(path, user.uid, user.gid);
  const info = await lstat(path);
  if (!info.isDirectory()) return;
  for (const entry of await readdir(path)) await chownTree(join(path, entry), user);
}

async function createRunDir(request: SandboxRequest, options: ResolvedOptions): Promise<RunDir> {
  const root = await mkdtemp(join(options.tempDir, RUN_DIR_PREFIX));
  const dir: RunDir = { root, program: join(root, 'program'), data: join(root, 'data'), etc: join(root, 'etc') };
  try {
    await chmod(root, 0o700);
    await writeFiles(dir.program, [...(request.programFiles ?? []), { name: 'launcher.py', data: Buffer.from(LAUNCHER_SOURCE) }]);
    await writeFiles(dir.data, request.dataFiles ?? []);
    await writeFiles(
      dir.etc,
      Object.entries(SYNTHETIC_ETC).map(([name, text]) => ({ name, data: Buffer.from(text) })),
    );
    if (options.hostUser) await chownTree(root, options.hostUser);
    return dir;
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}

const RUN_DIR_PREFIX = 'agentic-sandbox-';
/** Run dirs older than this are leftovers of a process that died mid-run (no run lives this long). */
const STALE_RUN_DIR_MS = 60 * 60 * 1000;

/**
 * Deletes run dirs that a crashed service left behind (they hold code and task files). Called by
 * the start-up probe; returns how many it removed.
 */
export async function sweepStaleRunDirs(tempDir: string = tmpdir(), olderThanMs: number = STALE_RUN_DIR_MS): Promise<number> {
  let removed = 0;
  const entries = await readdir(tempDir).catch(() => [] as string[]);
  for (const entry of entries.filter((e) => e.startsWith(RUN_DIR_PREFIX))) {
    const path = join(tempDir, entry);
    const info = await lstat(path).catch(() => null);
    if (!info?.isDirectory() || Date.now() - info.mtimeMs < olderThanMs) continue;
    await rm(path, { recursive: true, force: true });
    removed += 1;
  }
  return removed;
}

// ---------------------------------------------------------------------------------------------
// bwrap arguments

async function systemMounts(extra: string[]): Promise<string[]> {
  const args: string[] = [];
  for (const path of SYSTEM_PATHS) {
    const info = await lstat(path).catch(() => null);
    if (!info) continue;
    if (info.isSymbolicLink()) args.push('--symlink', await readlink(path), path);
    else if (info.isDirectory()) args.push('--ro-bind', path, path);
  }
  for (const path of [...ETC_PATHS, ...extra]) args.push('--ro-bind-try', path, path);
  return args;
}

/** Namespace and privilege flags shared by real runs and the probe. */
function isolationArgs(): string[] {
  return [
    '--unshare-all',
    '--unshare-user',
    '--disable-userns',
    '--uid', String(SANDBOX_UID),
    '--gid', String(SANDBOX_UID),
    '--hostname', 'sandbox',
    '--cap-drop', 'ALL',
    '--die-with-parent',
    '--new-session',
    '--clearenv',
  ];
}

function envArgs(env: Record<string, string>): string[] {
  return Object.entries(env).flatMap(([name, value]) => ['--setenv', name, value]);
}

function filesystemArgs(dir: RunDir, limits: SandboxLimits, system: string[]): string[] {
  const scratch = String(limits.scratchMb * 1024 * 1024);
  return [
    ...system,
    ...Object.keys(SYNTHETIC_ETC).flatMap((name) => ['--ro-bind', join(dir.etc, name), `/etc/${name}`]),
    '--proc', '/proc',
    '--dev', '/dev',
    '--size', scratch, '--tmpfs', SANDBOX_PATHS.work,
    '--dir', SANDBOX_PATHS.outputs,
    '--size', scratch, '--perms', '1777', '--tmpfs', '/tmp',
    '--ro-bind', dir.data, SANDBOX_PATHS.data,
    '--ro-bind', dir.program, SANDBOX_PATHS.program,
    // Last: the root tmpfs that bwrap built the tree in becomes read-only, so the only writable
    // places are the two size-limited tmpfs.
    '--remount-ro', '/',
    '--chdir', SANDBOX_PATHS.work,
  ];
}

function launcherConfig(request: SandboxRequest, env: Record<string, string>): string {
  const { limits } = request;
  return JSON.stringify({
    argv: request.argv,
    env,
    report_fd: REPORT_FD,
    limits: {
      memory_mb: limits.memoryMb,
      cpu_seconds: limits.cpuSeconds,
      wall_seconds: limits.wallSeconds,
      processes: limits.processes,
      file_size_mb: limits.fileSizeMb,
      open_files: limits.openFiles,
    },
    outputs: { dir: SANDBOX_PATHS.outputs, max_files: limits.maxOutputFiles, max_bytes: limits.maxOutputMb * 1024 * 1024 },
  });
}

// ---------------------------------------------------------------------------------------------
// Running

/** Kills bwrap's process group; --die-with-parent and the PID namespace take everything inside with it. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

interface Collected {
  code: number | null;
  stdout: CappedOutput;
  stderr: CappedOutput;
  report: Buffer;
  reportOverflow: boolean;
  hostLimit: SandboxLimitName | null;
  durationMs: number;
}

function spawnSandbox(setup: string[], command: string[], options: ResolvedOptions, request: SandboxRequest): Promise<Collected> {
  const { limits, signal } = request;
  const arch = currentSeccompArch();
  const seccomp = arch ? buildSeccompFilter(arch) : null;
  const started = Date.now();
  // The setup options go through a pipe (--args) so that the sandbox's /proc/1/cmdline, which is
  // bwrap's, does not show host paths; bwrap wants the command itself on its command line.
  const child = spawn(options.bwrapPath, ['--args', String(ARGS_FD), '--', ...command], {
    stdio: ['ignore', 'pipe', 'pipe', seccomp ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    detached: true,
    env: {},
    ...(options.hostUser ?? {}),
  });
  const argsPipe = (child.stdio as unknown as (Writable | null)[])[ARGS_FD] as Writable;
  argsPipe.on('error', () => undefined);
  argsPipe.end(Buffer.from(setup.map((a) => `${a}\0`).join('')));
  const stdout = new CappedOutput(limits.outputBytes);
  const stderr = new CappedOutput(limits.outputBytes);
  const reportChunks: Buffer[] = [];
  const reportCap = limits.maxOutputMb * 1024 * 1024 + 1024 * 1024;
  let reportBytes = 0;
  let reportOverflow = false;
  let hostLimit: SandboxLimitName | null = null;
  const stop = (limit: SandboxLimitName | null) => {
    hostLimit ??= limit;
    killGroup(child.pid);
  };
  const onOutput = (sink: CappedOutput) => (chunk: Buffer) => {
    sink.push(chunk);
    if (stdout.total + stderr.total > limits.killAfterOutputBytes) stop('output');
  };
  (child.stdout as Readable).on('data', onOutput(stdout));
  (child.stderr as Readable).on('data', onOutput(stderr));
  (child.stdio[REPORT_FD] as Readable).on('data', (chunk: Buffer) => {
    reportBytes += chunk.length;
    if (reportBytes > reportCap) reportOverflow = true;
    else reportChunks.push(chunk);
  });
  if (seccomp) {
    const pipe = child.stdio[SECCOMP_FD] as Writable;
    pipe.on('error', () => undefined);
    pipe.end(seccomp);
  }
  const backstop = setTimeout(() => stop('wall_clock'), limits.wallSeconds * 1000 + HOST_GRACE_MS);
  const onAbort = () => stop(null);
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  return new Promise((resolve, reject) => {
    child.once('error', (err) => {
      clearTimeout(backstop);
      signal?.removeEventListener('abort', onAbort);
      reject(new AppError('SANDBOX_UNAVAILABLE', `Cannot start bubblewrap at ${options.bwrapPath}: ${err.message}`, { cause: err }));
    });
    child.once('close', (code) => {
      clearTimeout(backstop);
      signal?.removeEventListener('abort', onAbort);
      resolve({
        code,
        stdout,
        stderr,
        report: Buffer.concat(reportChunks),
        reportOverflow,
        hostLimit,
        durationMs: Date.now() - started,
      });
    });
  });
}

function toResult(collected: Collected): SandboxResult {
  const report = collected.reportOverflow ? null : parseLauncherReport(collected.report);
  const exit = report?.exit ?? null;
  const intact = report !== null && exit !== null && !report.corrupt;
  return {
    exitCode: exit ? exit.exit_code : null,
    signal: exit ? exit.signal : null,
    limit: collected.hostLimit ?? exit?.limit ?? null,
    stdout: collected.stdout.text(),
    stderr: collected.stderr.text(),
    stdoutTruncated: collected.stdout.truncated,
    stderrTruncated: collected.stderr.truncated,
    durationMs: collected.durationMs,
    cpuMs: exit ? exit.cpu_ms : null,
    outputs: intact ? report.files : [],
    skippedOutputs: intact ? report.skipped : [],
    supervisorLost: !intact,
  };
}

/** bwrap's own complaint, when it failed before running anything. */
function setupFailure(collected: Collected, options: ResolvedOptions): string | null {
  if (collected.report.length > 0 || collected.hostLimit) return null;
  const text = collected.stderr.text().trim();
  if (text.startsWith('usage:')) return 'bwrap rejected its arguments (unsupported bubblewrap version?)';
  if (!text.startsWith('bwrap:')) return null;
  const line = text.split('\n')[0] ?? text;
  if (options.hostUser && /source path .*Permission denied/.test(line)) {
    return `${line} (bwrap runs as uid ${options.hostUser.uid}, which cannot reach the temp folder ${options.tempDir}; choose a temp folder every user can traverse, such as /tmp)`;
  }
  return line;
}

function checkRequest(request: SandboxRequest): void {
  const names = [...(request.programFiles ?? []), ...(request.dataFiles ?? [])].map((f) => f.name);
  for (const name of names) {
    if (!name || name.includes('/') || name === '.' || name === '..' || name.includes('\0')) {
      throw new AppError('INTERNAL_ERROR', `Invalid sandbox file name "${name}"`);
    }
  }
  if (!request.argv[0]?.startsWith('/')) throw new AppError('INTERNAL_ERROR', 'Sandbox argv[0] must be an absolute path');
}

/**
 * Runs `request.argv` in a fresh sandbox and returns what happened. A non-zero exit or a limit is a
 * result, not an error; errors are SANDBOX_UNAVAILABLE (bwrap missing or unable to set up) and the
 * abort signal's reason.
 */
export async function runInSandbox(request: SandboxRequest, options: SandboxOptions = {}): Promise<SandboxResult> {
  checkRequest(request);
  request.signal?.throwIfAborted();
  const resolved = resolveOptions(options);
  const env = { ...BASE_ENV, ...(request.env ?? {}) };
  const dir = await createRunDir(request, resolved);
  try {
    const setup = [
      ...isolationArgs(),
      ...envArgs(env),
      ...filesystemArgs(dir, request.limits, await systemMounts(resolved.extraReadOnlyPaths)),
      ...(currentSeccompArch() ? ['--seccomp', String(SECCOMP_FD)] : []),
    ];
    const command = [resolved.pythonPath, '-I', '-S', `${SANDBOX_PATHS.program}/launcher.py`, launcherConfig(request, env)];
    const collected = await spawnSandbox(setup, command, resolved, request);
    request.signal?.throwIfAborted();
    const failure = setupFailure(collected, resolved);
    if (failure) throw new AppError('SANDBOX_UNAVAILABLE', `The sandbox could not be set up: ${failure}`);
    return toResult(collected);
  } finally {
    await rm(dir.root, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The probe

export type SandboxCheck =
  | { ok: true; bwrapPath: string; pythonPath: string; seccomp: boolean; hostUid: number | null }
  | { ok: false; reason: string };

const USERNS_HINT =
  'unprivileged user namespaces look disabled on this host (check the sysctls user.max_user_namespaces and ' +
  'kernel.unprivileged_userns_clone, AppArmor\'s kernel.apparmor_restrict_unprivileged_userns, or the container\'s ' +
  'seccomp profile)';

function explainProbeFailure(stderr: string, code: number | null): string {
  const line = stderr.trim().split('\n')[0] ?? '';
  if (/namespace|uid map|setting up|Operation not permitted|Permission denied/i.test(line)) {
    return `bubblewrap cannot create its namespaces: ${line}; ${USERNS_HINT}`;
  }
  return `bubblewrap failed to run a trivial command (exit ${code}): ${line || 'no error output'}`;
}

function runProbe(args: string[], options: ResolvedOptions): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(options.bwrapPath, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
      env: {},
      ...(options.hostUser ?? {}),
    });
    const stderr = new CappedOutput(4096);
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => killGroup(child.pid), 15_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stderr: `bwrap: ${err.message}` });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr: stderr.text() });
    });
  });
}

/**
 * Verifies that a sandbox can really be set up here: bwrap is present, can create every namespace
 * with the exact flags real runs use and run `true` inside, and the launcher's Python starts inside
 * with the seccomp filter and limits. Never throws; says why when it cannot. Also deletes run dirs
 * that a crashed process left behind.
 */
export async function checkSandbox(options: SandboxOptions = {}): Promise<SandboxCheck> {
  const resolved = resolveOptions(options);
  await sweepStaleRunDirs(resolved.tempDir);
  try {
    await access(resolved.bwrapPath, fsConstants.X_OK);
  } catch {
    return { ok: false, reason: `bubblewrap not found or not executable at ${resolved.bwrapPath} (install the "bubblewrap" package)` };
  }
  const system = await systemMounts(resolved.extraReadOnlyPaths);
  const probe = await runProbe([...isolationArgs(), ...system, '--proc', '/proc', '--dev', '/dev', '--', 'true'], resolved);
  if (probe.code !== 0) return { ok: false, reason: explainProbeFailure(probe.stderr, probe.code) };
  try {
    const result = await runInSandbox(
      { argv: [resolved.pythonPath, '-I', '-S', '-c', 'print("sandbox-ok")'], limits: { ...DEFAULT_SANDBOX_LIMITS, wallSeconds: 20 } },
      options,
    );
    if (result.exitCode !== 0 || result.stdout.trim() !== 'sandbox-ok') {
      const why = result.stderr.trim().split('\n').slice(-1)[0] || `exit ${result.exitCode ?? result.signal}`;
      return { ok: false, reason: `Python at ${resolved.pythonPath} does not run inside the sandbox: ${why}` };
    }
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
  return {
    ok: true,
    bwrapPath: resolved.bwrapPath,
    pythonPath: resolved.pythonPath,
    seccomp: currentSeccompArch() !== null,
    hostUid: resolved.hostUser?.uid ?? null,
  };
}

/** Throws SANDBOX_UNAVAILABLE with the probe's reason unless a sandbox can be set up. */
export async function assertSandboxAvailable(options: SandboxOptions = {}): Promise<void> {
  const check = await checkSandbox(options);
  if (!check.ok) {
    throw new AppError('SANDBOX_UNAVAILABLE', `Code execution is disabled: ${check.reason}`, {
      details: { reason: check.reason },
    });
  }
}
