/**
 * The escape suite: hostile programs against run_python (bubblewrap) and run_javascript (QuickJS).
 * Each test asserts what the program actually observed inside, and the suite checks afterwards
 * that the host is untouched: a canary file, /etc/passwd, the test process, no leftover processes
 * and no leftover temp dirs. docs/security.md lists every test with its result.
 *
 * Tests needing bwrap are skipped when it cannot run here, except on CI (CI set), where they fail.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipSandboxTests, sandboxCheck } from '../src/sandbox/__fixtures__/sandbox-available.js';
import { ToolRegistry } from '../src/tools/registry.js';
import { createRunJavaScriptTool } from '../src/tools/run-javascript.js';
import type { RunJavaScriptOutput } from '../src/tools/run-javascript.js';
import { createRunPythonTool } from '../src/tools/run-python.js';
import type { RunPythonOutput } from '../src/tools/run-python.js';
import type { ToolContext } from '../src/tools/types.js';
import { toolContext } from './support/tool-context.js';

const SECRET = `agentic-secret-${randomUUID()}`;
process.env.AGENTIC_TEST_SECRET = SECRET;
/** A unique argument for background processes, so the host can look for survivors. */
const MARKER = `${1000 + Math.floor(Math.random() * 8000)}.${Math.floor(Math.random() * 1e6)}`;
const CANARY = join(tmpdir(), `agentic-canary-${randomUUID()}`);
const CANARY_TEXT = 'the host canary, untouched\n';

const LIMITS = {
  memoryMb: 256,
  // Well under the wall clock, so CPU time runs out first even when the two cores are busy.
  cpuSeconds: 1,
  wallSeconds: 4,
  processes: 32,
  fileSizeMb: 4,
  scratchMb: 16,
  outputBytes: 16 * 1024,
  killAfterOutputBytes: 1024 * 1024,
};

let runDirs: string;
let registry: ToolRegistry;
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const host = { canaryMtime: 0, passwd: '' };

function context(): ToolContext {
  return toolContext({ tenantId: 'tenant-escape', idempotencyKey: 'escape' });
}

/** Helpers every Python case can use: raw syscalls with their errno, and syscall numbers. */
const PRELUDE = String.raw`
import ctypes, errno, json, os, signal, socket, subprocess, sys, time
libc = ctypes.CDLL(None, use_errno=True)
def call(fn, *args):
    ctypes.set_errno(0)
    r = fn(*args)
    return 'ok' if r != -1 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
def sysc(name, *args):
    return call(libc.syscall, ctypes.c_long(NR[name]), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
def attempt(fn):
    try:
        fn()
        return 'ok'
    except BaseException as e:
        return type(e).__name__
NR = {
  'x86_64': {'keyctl': 250, 'add_key': 248, 'io_uring_setup': 425, 'bpf': 321, 'perf_event_open': 298,
             'open_by_handle_at': 304, 'clock_settime': 227, 'setns': 308, 'unshare': 272, 'ptrace': 101},
  'aarch64': {'keyctl': 219, 'add_key': 217, 'io_uring_setup': 425, 'bpf': 280, 'perf_event_open': 241,
              'open_by_handle_at': 265, 'clock_settime': 112, 'setns': 268, 'unshare': 97, 'ptrace': 117},
}[os.uname().machine]
def out(value):
    print(json.dumps(value), flush=True)
`;

async function py(code: string, timeout_s?: number): Promise<RunPythonOutput> {
  const input: Record<string, unknown> = { code: `${PRELUDE}\n${code}` };
  if (timeout_s) input.timeout_s = timeout_s;
  return (await registry.invoke('run_python', input, context())) as RunPythonOutput;
}

/** The JSON value the program printed last with out(...). */
function observed<T = Record<string, unknown>>(result: RunPythonOutput): T {
  const lines = result.stdout.trim().split('\n');
  try {
    return JSON.parse(lines[lines.length - 1] ?? '') as T;
  } catch {
    throw new Error(`No JSON on the last line of stdout.\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
}

async function js(code: string, timeout_s?: number): Promise<RunJavaScriptOutput> {
  const input: Record<string, unknown> = { code };
  if (timeout_s) input.timeout_s = timeout_s;
  return (await registry.invoke('run_javascript', input, context())) as RunJavaScriptOutput;
}

function hostCanConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: 1000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Host processes whose command line contains `text`. */
async function hostProcessesWith(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text)) found.push(`${pid}: ${cmdline.replace(/\0/g, ' ')}`);
  }
  return found;
}

beforeAll(async () => {
  runDirs = await mkdtemp(join(tmpdir(), 'agentic-escape-'));
  await chmod(runDirs, 0o711);
  await writeFile(CANARY, CANARY_TEXT, { mode: 0o666 });
  host.canaryMtime = (await stat(CANARY)).mtimeMs;
  host.passwd = sha256(await readFile('/etc/passwd'));
  registry = new ToolRegistry()
    .register(createRunPythonTool({ limits: LIMITS, maxConcurrent: 3, tempDir: runDirs }))
    .register(createRunJavaScriptTool({ limits: { timeoutMs: 8000, memoryMb: 16 }, maxConcurrent: 2 }));
});

afterAll(async () => {
  // The host is unaffected: canary, passwd, this process, no survivors, no temp dirs left behind.
  expect(await readFile(CANARY, 'utf8')).toBe(CANARY_TEXT);
  expect((await stat(CANARY)).mtimeMs).toBe(host.canaryMtime);
  expect(sha256(await readFile('/etc/passwd'))).toBe(host.passwd);
  expect(() => process.kill(process.pid, 0)).not.toThrow();
  expect(await hostProcessesWith(MARKER)).toEqual([]);
  expect(await readdir(runDirs)).toEqual([]);
  await rm(runDirs, { recursive: true, force: true });
  await rm(CANARY, { force: true });
});

describe.skipIf(skipSandboxTests).concurrent('run_python containment', () => {
  it('has a working sandbox on this host', ({ expect }) => {
    expect(sandboxCheck).toMatchObject({ ok: true });
  });

  // --- Host files -------------------------------------------------------------------------------

  it('cannot read host secrets: /etc/shadow, /root, ~/.ssh, /home, /var', async ({ expect }) => {
    const paths = ['/etc/shadow', '/root', '/root/.ssh/id_rsa', '/home', '/var/lib', '/etc/ssh', '/run/postgresql'];
    const result = await py(`
paths = ${JSON.stringify(paths)} + [os.path.expanduser('~/.ssh/id_rsa')]
out({p: [os.path.lexists(p), attempt(lambda: open(p).read())] for p in paths})`);
    const seen = observed<Record<string, [boolean, string]>>(result);
    for (const path of paths) expect(seen[path]).toEqual([false, 'FileNotFoundError']);
    expect(seen['/work/.ssh/id_rsa']).toEqual([false, 'FileNotFoundError']);
    expect(existsSync('/etc/shadow')).toBe(true); // so the check above means something
  });

  it('cannot see the service source or the host /work', async ({ expect }) => {
    const result = await py(`
out({'pkg': attempt(lambda: open('/work/main/package.json').read()), 'work': sorted(os.listdir('/work')),
     'cwd': os.getcwd(), 'src': os.path.exists('/work/main/src')})`);
    expect(observed(result)).toEqual({ pkg: 'FileNotFoundError', work: ['outputs'], cwd: '/work', src: false });
  });

  it('sees only the mounted system paths at /', async ({ expect }) => {
    const result = await py(`out(sorted(os.listdir('/')))`);
    const allowed = ['bin', 'data', 'dev', 'etc', 'lib', 'lib32', 'lib64', 'libx32', 'proc', 'sandbox', 'sbin', 'tmp', 'usr', 'work'];
    const root = observed<string[]>(result);
    expect(root.filter((e) => !allowed.includes(e))).toEqual([]);
    expect(root).not.toContain('root');
    expect(root).not.toContain('home');
  });

  it('gets a synthetic /etc: no host passwd, hosts or resolv.conf', async ({ expect }) => {
    const result = await py(`
out({'etc': sorted(os.listdir('/etc')), 'passwd': open('/etc/passwd').read(),
     'resolv': attempt(lambda: open('/etc/resolv.conf').read())})`);
    const seen = observed<{ etc: string[]; passwd: string; resolv: string }>(result);
    expect(seen.passwd).toContain('sandbox:x:1000:1000');
    expect(seen.passwd).not.toContain(':/root:');
    expect(seen.resolv).toBe('FileNotFoundError');
    expect(seen.etc).not.toContain('shadow');
    expect(seen.etc).not.toContain('ssh');
  });

  it('cannot touch the host canary in the host /tmp', async ({ expect }) => {
    const result = await py(`
before = attempt(lambda: open(${JSON.stringify(CANARY)}).read())
open(${JSON.stringify(CANARY)}, 'w').write('overwritten by the sandbox')
out({'before': before, 'tmp': sorted(os.listdir('/tmp'))})`);
    expect(observed(result)).toEqual({ before: 'FileNotFoundError', tmp: [CANARY.split('/').pop()] });
    expect(await readFile(CANARY, 'utf8')).toBe(CANARY_TEXT);
  });

  // --- Environment and /proc --------------------------------------------------------------------

  it('cannot see the host environment or its secrets', async ({ expect }) => {
    const result = await py(`
out({'keys': sorted(os.environ), 'environ': open('/proc/self/environ').read(), 'has': 'AGENTIC_TEST_SECRET' in os.environ})`);
    const seen = observed<{ keys: string[]; environ: string; has: boolean }>(result);
    expect(seen.has).toBe(false);
    expect(result.stdout).not.toContain(SECRET);
    expect(seen.keys.filter((k) => !/^(PATH|HOME|LANG|TMPDIR|PYTHON\w+|MPLBACKEND|\w+_NUM_THREADS|LC_CTYPE)$/.test(k))).toEqual([]);
  });

  it('sees only its own processes in /proc, never the host’s command lines or environments', async ({ expect }) => {
    const result = await py(`
info = {}
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    info[pid] = [open('/proc/%s/cmdline' % pid, 'rb').read().decode(errors='replace'),
                 attempt(lambda: open('/proc/%s/environ' % pid, 'rb').read())]
out(info)`);
    const procs = observed<Record<string, [string, string]>>(result);
    expect(Object.keys(procs).length).toBeLessThanOrEqual(4);
    expect(procs['1']?.[0].split('\0').slice(0, 4)).toEqual(['/usr/bin/bwrap', '--args', '5', '--']);
    expect(result.stdout).not.toContain(runDirs);
    expect(result.stdout).not.toContain(SECRET);
    expect(result.stdout).not.toMatch(/vitest|node_modules/);
    expect(Object.keys(procs)).not.toContain(String(process.pid));
  });

  it('finds the sandbox, not the host, behind /proc/1/root and /proc/self/root', async ({ expect }) => {
    const result = await py(`
def listing(path):
    try:
        return sorted(os.listdir(path))
    except OSError as e:
        return type(e).__name__
out({'one': listing('/proc/1/root/work'), 'self': listing('/proc/self/root/work'),
     'main': os.path.exists('/proc/self/root/work/main'), 'kcore': attempt(lambda: open('/proc/kcore', 'rb').read(1))})`);
    const seen = observed<{ one: string | string[]; self: string[]; main: boolean; kcore: string }>(result);
    expect([['outputs'], 'PermissionError']).toContainEqual(seen.one);
    expect(seen.self).toEqual(['outputs']);
    expect(seen.main).toBe(false);
    expect(seen.kcore).not.toBe('ok');
  });

  it('runs as an unprivileged uid with no capabilities, no_new_privs and seccomp', async ({ expect }) => {
    const result = await py(`
status = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)
out({k: status[k].strip() for k in ('Uid', 'CapEff', 'CapPrm', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp')})`);
    expect(observed(result)).toEqual({
      Uid: '1000\t1000\t1000\t1000',
      CapEff: '0000000000000000',
      CapPrm: '0000000000000000',
      CapBnd: '0000000000000000',
      CapAmb: '0000000000000000',
      NoNewPrivs: '1',
      Seccomp: '2',
    });
  });

  it('cannot read /sys or reach the host cgroups', async ({ expect }) => {
    const result = await py(`out({'sys': attempt(lambda: os.listdir('/sys')), 'cg': attempt(lambda: os.listdir('/sys/fs/cgroup'))})`);
    expect(observed(result)).toEqual({ sys: 'FileNotFoundError', cg: 'FileNotFoundError' });
  });

  // --- Network ----------------------------------------------------------------------------------

  it('cannot reach PostgreSQL on 127.0.0.1:5432 or its unix socket', async ({ expect }) => {
    const reachableFromHost = await hostCanConnect(5432);
    const result = await py(`
s = socket.socket()
u = socket.socket(socket.AF_UNIX)
out({'tcp': attempt(lambda: s.connect(('127.0.0.1', 5432))), 'unix': attempt(lambda: u.connect('/run/postgresql/.s.PGSQL.5432'))})`);
    expect(observed(result)).toEqual({ tcp: 'ConnectionRefusedError', unix: 'FileNotFoundError' });
    if (reachableFromHost) expect(reachableFromHost).toBe(true); // the service is up: the sandbox is what blocks it
  });

  it('cannot reach Redis on 127.0.0.1:6379', async ({ expect }) => {
    const result = await py(`
s = socket.socket()
out({'redis': attempt(lambda: s.connect(('127.0.0.1', 6379))), 'v6': attempt(lambda: socket.create_connection(('::1', 6379), 1))})`);
    const seen = observed<{ redis: string; v6: string }>(result);
    expect(seen.redis).toBe('ConnectionRefusedError');
    expect(seen.v6).not.toBe('ok');
  });

  it('cannot reach the outside: 1.1.1.1:53 (TCP and UDP), 1.1.1.1:80, 8.8.8.8:443', async ({ expect }) => {
    const result = await py(`
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b'x', ('1.1.1.1', 53))
out({'dns_tcp': attempt(lambda: socket.create_connection(('1.1.1.1', 53), 2)), 'dns_udp': attempt(udp),
     'http': attempt(lambda: socket.create_connection(('1.1.1.1', 80), 2)),
     'https': attempt(lambda: socket.create_connection(('8.8.8.8', 443), 2))})`);
    expect(observed(result)).toEqual({ dns_tcp: 'OSError', dns_udp: 'OSError', http: 'OSError', https: 'OSError' });
    expect(result.stdout + result.stderr).not.toMatch(/timed out/);
  });

  it('cannot resolve names and has only a loopback interface', async ({ expect }) => {
    const result = await py(`
out({'dns': attempt(lambda: socket.getaddrinfo('example.com', 443)), 'ifaces': [n for _, n in socket.if_nameindex()],
     'hostname': socket.gethostname()})`);
    expect(observed(result)).toEqual({ dns: 'gaierror', ifaces: ['lo'], hostname: 'sandbox' });
  });

  // --- Resource exhaustion ----------------------------------------------------------------------

  it('survives a fork bomb', async ({ expect }) => {
    const started = Date.now();
    const result = await py(`
while True:
    try:
        os.fork()
    except OSError:
        pass`);
    expect(['processes', 'memory', 'wall_clock', 'cpu']).toContain(result.limit);
    expect(result.exit_code).toBeNull();
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('caps the number of processes', async ({ expect }) => {
    // Each child becomes a small \`sleep\`, so the process cap is reached long before the memory ceiling
    // (forked Pythons would count their shared pages again and again).
    const result = await py(`
n = 0
try:
    for _ in range(200):
        if os.fork() == 0:
            try:
                os.execv('/usr/bin/sleep', ['sleep', '3'])
            finally:
                os._exit(0)
        n += 1
except OSError as e:
    out({'forked': n, 'error': e.errno})`);
    const seen = observed<{ forked: number; error: number }>(result);
    expect(seen.forked).toBeLessThan(LIMITS.processes);
    expect(seen.error).toBe(11); // EAGAIN from RLIMIT_NPROC
  });

  it('stops a memory bomb at the memory limit', async ({ expect }) => {
    // Filling 256 MiB takes about 0.8 s of CPU, near the suite's 1 s limit: this run gets CPU to spare, so
    // that on a busy machine the memory limit, not the CPU limit, is what stops it.
    const roomy = new ToolRegistry().register(createRunPythonTool({ limits: { ...LIMITS, cpuSeconds: 5, wallSeconds: 10 }, tempDir: runDirs }));
    const result = (await roomy.invoke('run_python', { code: `hog = []\nwhile True:\n    hog.append(bytearray(16 * 1024 * 1024))` }, context())) as RunPythonOutput;
    expect(result.limit).toBe('memory');
    expect(result.stderr).toMatch(/MemoryError/);
  });

  it('stops memory spread over many processes (aggregate ceiling)', async ({ expect }) => {
    const result = await py(`
for _ in range(8):
    if os.fork() == 0:
        block = bytearray(100 * 1024 * 1024)
        time.sleep(10)
        os._exit(0)
time.sleep(10)`);
    expect(result.limit).toBe('memory');
    expect(result.exit_code).toBeNull();
  });

  it('kills an endless CPU loop at the CPU limit', async ({ expect }) => {
    const result = await py(`
while True:
    pass`);
    expect(result.limit).toBe('cpu');
    // rusage is sampled in ticks and can read a little under the limit that fired.
    expect(result.cpu_ms).toBeGreaterThanOrEqual(LIMITS.cpuSeconds * 500);
  });

  it('kills a CPU loop that ignores SIGXCPU and SIGTERM', async ({ expect }) => {
    const result = await py(`
signal.signal(signal.SIGXCPU, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
while True:
    pass`);
    expect(['cpu', 'wall_clock']).toContain(result.limit);
    expect(result.signal).toBe('SIGKILL');
  });

  it('kills a program sleeping forever at the wall clock', async ({ expect }) => {
    const result = await py(`time.sleep(10 ** 6)`, 1);
    expect(result.limit).toBe('wall_clock');
    expect(result.duration_ms).toBeGreaterThanOrEqual(900);
    expect(result.duration_ms).toBeLessThan(4000);
  });

  it('stops runaway output and keeps only the cap', async ({ expect }) => {
    const result = await py(`
while True:
    sys.stdout.write('A' * 65536)`);
    expect(result.limit).toBe('output');
    expect(result.truncated).toBe(true);
    expect(result.stdout.length).toBeLessThan(LIMITS.outputBytes + 200);
  });

  it('cannot write a file larger than the file size limit', async ({ expect }) => {
    const result = await py(`
f = open('/work/big', 'wb')
f.write(b'x' * (64 * 1024 * 1024))`);
    expect(result.limit).toBe('file_size');
    expect(result.stderr).toMatch(/File too large/);
  });

  it('cannot fill memory through the scratch tmpfs', async ({ expect }) => {
    const result = await py(`
for i in range(100):
    open('/work/fill%d' % i, 'wb').write(b'x' * (3 * 1024 * 1024))`);
    expect(result.limit).toBe('disk');
    expect(result.stderr).toMatch(/No space left on device/);
  });

  it('cannot raise its own limits', async ({ expect }) => {
    const result = await py(`
import resource
out({'as': attempt(lambda: resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))),
     'nproc': attempt(lambda: resource.setrlimit(resource.RLIMIT_NPROC, (10 ** 6, 10 ** 6)))})`);
    expect(observed(result)).toEqual({ as: 'ValueError', nproc: 'ValueError' });
  });

  // --- Writes outside the work dir ----------------------------------------------------------------

  it('cannot write to /usr, /etc, /, /data, /sandbox or /proc/sys', async ({ expect }) => {
    const result = await py(`
targets = ['/usr/evil', '/usr/bin/python3', '/etc/passwd', '/etc/evil', '/evil', '/data/evil', '/sandbox/main.py', '/lib/evil']
res = {t: attempt(lambda: open(t, 'a').write('x')) for t in targets}
res['/proc/sys/kernel/hostname'] = attempt(lambda: open('/proc/sys/kernel/hostname', 'w').write('pwned'))
res['/proc/sysrq-trigger'] = attempt(lambda: open('/proc/sysrq-trigger', 'w').write('b'))
out(res)`);
    const seen = observed<Record<string, string>>(result);
    for (const [target, outcome] of Object.entries(seen)) expect([target, outcome]).toEqual([target, expect.stringMatching(/Error$/)]);
    expect(Object.keys(seen)).toHaveLength(10);
  });

  // --- Outputs: symlinks, hard links, special files, late writers ---------------------------------

  it('does not export a symlink to /etc/passwd or to host paths as an artifact', async ({ expect }) => {
    const result = await py(`
os.symlink('/etc/passwd', '/work/outputs/passwd.txt')
os.symlink('/work/main/package.json', '/work/outputs/package.json')
os.symlink('/proc/1/environ', '/work/outputs/environ.txt')
out({'link': attempt(lambda: os.link('/etc/passwd', '/work/outputs/hard.txt'))})`);
    expect(observed(result)).toEqual({ link: 'OSError' });
    expect(result.artifacts).toEqual([]);
    expect(result.skipped_outputs).toEqual([
      { name: 'environ.txt', reason: 'not a regular file' },
      { name: 'package.json', reason: 'not a regular file' },
      { name: 'passwd.txt', reason: 'not a regular file' },
    ]);
  });

  it('exports a copied /etc/passwd only with the sandbox’s synthetic content', async ({ expect }) => {
    const hostPasswd = await readFile('/etc/passwd', 'utf8');
    const result = await py(`
import shutil
shutil.copy('/etc/passwd', '/work/outputs/passwd.txt')`);
    expect(result.artifacts.map((a) => a.name)).toEqual(['passwd.txt']);
    const synthetic = 'sandbox:x:1000:1000:sandbox:/work:/bin/sh';
    expect(result.artifacts[0]?.sha256).not.toBe(sha256(hostPasswd));
    expect(hostPasswd).not.toContain(synthetic);
  });

  it('cannot hang the export with a FIFO or smuggle a bad file name', async ({ expect }) => {
    const result = await py(`
os.mkfifo('/work/outputs/pipe')
open('/work/outputs/evil\\nname', 'w').write('x')
open('/work/outputs/ok.txt', 'w').write('fine')`);
    expect(result.artifacts.map((a) => a.name)).toEqual(['ok.txt']);
    expect(result.skipped_outputs).toEqual([
      { name: 'evil\nname', reason: 'name is not a plain file name' },
      { name: 'pipe', reason: 'not a regular file' },
    ]);
    expect(result.duration_ms).toBeLessThan(3000);
  });

  it('cannot add outputs after it exits from a left-behind process', async ({ expect }) => {
    const result = await py(`
if os.fork() == 0:
    os.setsid()
    time.sleep(0.5)
    open('/work/outputs/late.txt', 'w').write('late')
    os._exit(0)
open('/work/outputs/main.txt', 'w').write('main')`);
    expect(result.artifacts.map((a) => a.name)).toEqual(['main.txt']);
  });

  it('cannot forge the artifact report through the supervisor’s file descriptors', async ({ expect }) => {
    const result = await py(`
res = {}
for pid in [p for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()]:
    for fd in ('3', '4', '5'):
        def forge():
            f = os.open('/proc/%s/fd/%s' % (pid, fd), os.O_WRONLY)
            os.write(f, (json.dumps({'type': 'file', 'name': 'forged.txt', 'size': 2}) + '\\nhi').encode())
        res[pid + '/' + fd] = attempt(forge)
out(res)`);
    const seen = observed<Record<string, string>>(result);
    expect(Object.values(seen).filter((v) => v === 'ok')).toEqual([]);
    expect(seen['2/4']).toBe('PermissionError'); // the launcher (pid 2) is not dumpable
    expect(result.artifacts).toEqual([]);
    expect(result.exit_code).toBe(0);
  });

  // --- Processes and signals --------------------------------------------------------------------

  it('leaves no background or daemonised process behind', async ({ expect }) => {
    const result = await py(`
subprocess.Popen(['/usr/bin/sleep', '${MARKER}'], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv('/usr/bin/sleep', ['/usr/bin/sleep', '${MARKER}'])
    os._exit(0)
time.sleep(0.2)
out('started')`);
    expect(observed(result)).toBe('started');
    await new Promise((r) => setTimeout(r, 300));
    expect(await hostProcessesWith(MARKER)).toEqual([]);
  });

  it('cannot kill the sandbox init (pid 1) or the host test process', async ({ expect }) => {
    const result = await py(`
out({'init': attempt(lambda: os.kill(1, signal.SIGKILL)), 'host': attempt(lambda: os.kill(${process.pid}, signal.SIGKILL)),
     'host_group': attempt(lambda: os.killpg(${process.pid}, signal.SIGKILL)), 'alive': True})`);
    const seen = observed<{ init: string; host: string; host_group: string; alive: boolean }>(result);
    expect(seen.alive).toBe(true);
    expect(seen.host).toBe('ProcessLookupError');
    expect(seen.host_group).toBe('ProcessLookupError');
    expect(result.exit_code).toBe(0);
    expect(() => process.kill(process.pid, 0)).not.toThrow();
  });

  it('killing every process it can see only ends its own run', async ({ expect }) => {
    const result = await py(`
print('about to kill everything', flush=True)
os.kill(-1, signal.SIGKILL)
time.sleep(1)`);
    expect(result.stdout).toContain('about to kill everything');
    expect(result.exit_code).toBeNull();
    expect(result.artifacts).toEqual([]);
    expect(() => process.kill(process.pid, 0)).not.toThrow();
  });

  it('cannot ptrace anything', async ({ expect }) => {
    const result = await py(`
out({'traceme': call(libc.ptrace, 0, 0, 0, 0), 'attach_init': call(libc.ptrace, 16, 1, 0, 0),
     'raw': sysc('ptrace', 16, 1, 0, 0), 'vm_read': attempt(lambda: open('/proc/1/mem', 'rb').read(1))})`);
    const seen = observed<Record<string, string>>(result);
    expect(seen).toMatchObject({ traceme: 'EPERM', attach_init: 'EPERM', raw: 'EPERM' });
    expect(seen.vm_read).not.toBe('ok');
  });

  // --- Privilege and namespace escapes ----------------------------------------------------------

  it('cannot mount, unmount or remount', async ({ expect }) => {
    const result = await py(`
out({'mount': call(libc.mount, b'none', b'/work', b'tmpfs', 0, None), 'umount': call(libc.umount2, b'/data', 2),
     'remount': call(libc.mount, None, b'/usr', None, 32 | 4096, None)})`);
    expect(observed(result)).toEqual({ mount: 'EPERM', umount: 'EPERM', remount: 'EPERM' });
  });

  it('cannot become root, chroot or use setuid binaries', async ({ expect }) => {
    const result = await py(`
su = subprocess.run(['/usr/bin/su', '-c', 'id'], capture_output=True) if os.path.exists('/usr/bin/su') else None
out({'setuid': attempt(lambda: os.setuid(0)), 'setgid': attempt(lambda: os.setgid(0)), 'chroot': call(libc.chroot, b'/tmp'),
     'su': None if su is None else su.returncode != 0, 'uid': os.getuid(), 'euid': os.geteuid()})`);
    const seen = observed<Record<string, unknown>>(result);
    // Not root in the namespace and uid 0 is not even mapped: EPERM or EINVAL, never success.
    expect(seen).toMatchObject({ setuid: expect.stringMatching(/Error$/), setgid: expect.stringMatching(/Error$/), chroot: 'EPERM' });
    expect(seen).toMatchObject({ uid: 1000, euid: 1000 });
    expect([null, true]).toContain(seen.su);
  });

  it('cannot create namespaces (unshare, clone flags, setns, the unshare binary)', async ({ expect }) => {
    const result = await py(`
CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET = 0x10000000, 0x00020000, 0x40000000
binary = subprocess.run(['/usr/bin/unshare', '-r', '/usr/bin/id'], capture_output=True)
fd = os.open('/proc/1/ns/net', os.O_RDONLY) if os.path.exists('/proc/1/ns/net') else -1
out({'user': call(libc.unshare, CLONE_NEWUSER), 'mnt': call(libc.unshare, CLONE_NEWNS), 'net': sysc('unshare', CLONE_NEWNET),
     'setns': sysc('setns', fd, 0), 'binary': binary.returncode})`);
    const seen = observed<Record<string, unknown>>(result);
    expect(seen).toMatchObject({ user: 'EPERM', mnt: 'EPERM', net: 'EPERM', setns: 'EPERM' });
    expect(seen.binary).not.toBe(0);
  });

  it('cannot use the kernel keyring, io_uring, bpf, perf events or open_by_handle_at', async ({ expect }) => {
    const result = await py(`
out({'keyctl': sysc('keyctl', 0, -3, 0), 'add_key': sysc('add_key', b'user', b'k', b'v', 1, -3),
     'io_uring': sysc('io_uring_setup', 8, ctypes.create_string_buffer(120)), 'bpf': sysc('bpf', 0, 0, 0),
     'perf': sysc('perf_event_open', ctypes.create_string_buffer(128), 0, -1, -1, 0),
     'handle': sysc('open_by_handle_at', -100, ctypes.create_string_buffer(16), 0)})`);
    expect(observed(result)).toEqual({ keyctl: 'EPERM', add_key: 'EPERM', io_uring: 'EPERM', bpf: 'EPERM', perf: 'EPERM', handle: 'EPERM' });
  });

  it('cannot change the clock or the hostname', async ({ expect }) => {
    const result = await py(`
ts = (ctypes.c_long * 2)(0, 0)
out({'clock': sysc('clock_settime', 0, ts), 'hostname': call(libc.sethostname, b'pwned', 5), 'name': socket.gethostname()})`);
    expect(observed(result)).toEqual({ clock: 'EPERM', hostname: 'EPERM', name: 'sandbox' });
  });

  it('has no block devices, /dev/mem, kmsg or a terminal to inject into', async ({ expect }) => {
    const result = await py(`
res = {d: attempt(lambda: open(d, 'rb').read(1)) for d in ['/dev/sda', '/dev/vda', '/dev/mem', '/dev/kmem', '/dev/port', '/dev/kmsg']}
res['tty'] = attempt(lambda: open('/dev/tty', 'rb'))
res['mknod'] = attempt(lambda: os.mknod('/work/sda', 0o600 | 0o060000, os.makedev(8, 0)))
res['dev'] = sorted(os.listdir('/dev'))
out(res)`);
    const seen = observed<Record<string, unknown>>(result);
    for (const d of ['/dev/sda', '/dev/vda', '/dev/mem', '/dev/kmem', '/dev/port', '/dev/kmsg']) expect(seen[d]).toBe('FileNotFoundError');
    expect(seen.tty).toBe('OSError');
    expect(seen.mknod).toBe('PermissionError');
    const standard = ['console', 'core', 'fd', 'full', 'mqueue', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero'];
    expect((seen.dev as string[]).filter((d) => !standard.includes(d))).toEqual([]);
  });
});

describe.concurrent('run_javascript containment', () => {
  it('exposes no host objects: require, process, fetch, timers, Buffer, WebAssembly, std/os modules', async ({ expect }) => {
    const names = ['require', 'process', 'fetch', 'module', 'exports', 'Buffer', 'setTimeout', 'setInterval', 'XMLHttpRequest', 'WebAssembly', 'Deno', 'Bun', 'std', 'os', 'scriptArgs'];
    const out = await js(`(${JSON.stringify(names)}).map((n) => [n, typeof globalThis[n]])`);
    expect(out.result).toEqual(names.map((n) => [n, 'undefined']));
  });

  it('has only ECMAScript built-ins plus console on globalThis', async ({ expect }) => {
    const out = await js('Object.getOwnPropertyNames(globalThis).filter((n) => !/^[A-Z]/.test(n)).sort()');
    const allowed = ['console', 'decodeURI', 'decodeURIComponent', 'encodeURI', 'encodeURIComponent', 'escape', 'eval', 'globalThis', 'isFinite', 'isNaN', 'parseFloat', 'parseInt', 'undefined', 'unescape'];
    expect((out.result as string[]).filter((n) => !allowed.includes(n))).toEqual([]);
    expect(JSON.stringify(out)).not.toContain(SECRET);
  });

  it('cannot import modules', async ({ expect }) => {
    const out = await js(`(async () => { const r = []; for (const m of ['fs', 'node:child_process', 'std', 'os']) {
      try { await import(m); r.push(m + ':ok'); } catch (e) { r.push(m + ':' + e.name); } } return r; })()`);
    expect((out.result as string[]).every((r) => !r.endsWith(':ok'))).toBe(true);
  });

  it('cannot reach the host through constructors, eval or Function', async ({ expect }) => {
    const out = await js(`[
      this.constructor.constructor('return typeof process')(),
      Function('return typeof require')(),
      eval('typeof fetch'),
      (function () { return typeof this.process; })(),
      (() => { try { return Function('return process.env')(); } catch (e) { return e.name; } })(),
    ]`);
    expect(out.result).toEqual(['undefined', 'undefined', 'undefined', 'undefined', 'ReferenceError']);
  });

  it('interrupts an infinite loop', async ({ expect }) => {
    const out = await js('while (true) {}', 0.5);
    expect(out.limit).toBe('time');
    expect(out.duration_ms).toBeLessThan(5000);
  });

  it('limits a memory bomb', async ({ expect }) => {
    const out = await js('const a = []; while (true) a.push({ i: a.length, s: "y".repeat(100) });');
    expect(out.limit).toBe('memory');
  });

  it('contains unbounded recursion', async ({ expect }) => {
    const out = await js('const f = () => f(); f()');
    expect(out.error?.message).toMatch(/stack overflow/);
  });

  it('caps huge console output', async ({ expect }) => {
    const out = await js('const s = "z".repeat(100000); for (let i = 0; i < 100; i++) console.log(s); 1');
    expect(out.truncated).toBe(true);
    expect(out.stdout.length).toBeLessThan(70 * 1024);
    expect(out.result).toBe(1);
  });

  it('does not hang on a promise that never settles', async ({ expect }) => {
    const out = await js('new Promise(() => {})');
    expect(out.error?.message).toMatch(/never settled/);
    // Ended by seeing nothing left to run, not by the time limit (8 s): a busy machine may take seconds to start the run.
    expect(out.limit).not.toBe('time');
    expect(out.duration_ms).toBeLessThan(8000);
  });
});
