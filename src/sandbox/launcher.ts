/**
 * The launcher: a small Python program that runs inside the sandbox as its first process (after
 * bubblewrap's own init). It lives here as a string so that the compiled service carries it
 * without a build step that copies non-TypeScript files; each run writes it into the read-only
 * /sandbox folder.
 *
 * What it does, and why it runs inside rather than on the host:
 * - forks the command with its resource limits (address space, CPU, processes, file size, open
 *   files, no core dumps) set with setrlimit just before exec, so they bind inside the namespace;
 * - enforces the wall clock and an aggregate memory ceiling (the sum of resident memory of every
 *   sandbox process, which per-process RLIMIT_AS alone does not bound), killing every process of
 *   the sandbox with kill(-1, SIGKILL);
 * - when the command has ended, kills whatever it left running (daemons, double forks), and only
 *   then reads /work/outputs: nothing can change the files while they are copied, and symlinks are
 *   refused with O_NOFOLLOW (they would resolve inside the sandbox anyway, never to host files);
 * - reports the outputs and the exit status on a private file descriptor that the command never
 *   inherits. The report is framed as JSON header lines, each file's bytes following its header.
 *
 * The command could forge this report only by subverting the launcher, and then only about its own
 * run; the host parses it with hard caps on sizes and counts and treats it as untrusted input.
 */
export const LAUNCHER_SOURCE = String.raw`
import ctypes, json, os, resource, signal, stat, sys, time

MB = 1024 * 1024


def report(fd, record, data=b''):
    line = (json.dumps(record) + '\n').encode()
    buf = memoryview(line + data)
    while buf:
        written = os.write(fd, buf)
        buf = buf[written:]


def make_undumpable():
    # Without this, code running as the same uid could open /proc/<launcher>/fd and forge the report.
    try:
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except Exception:
        pass


def other_pids():
    me = os.getpid()
    pids = []
    for entry in os.listdir('/proc'):
        if entry.isdigit() and int(entry) not in (1, me):
            pids.append(int(entry))
    return pids


def resident_bytes(pids):
    page = os.sysconf('SC_PAGE_SIZE')
    total = 0
    for pid in pids:
        try:
            with open('/proc/%d/statm' % pid) as f:
                total += int(f.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            pass
    return total


def kill_all():
    # kill(-1) reaches every process this uid may signal in the sandbox's PID namespace, except
    # the launcher and the namespace's init; repeat while a fork bomb is still producing children.
    for _ in range(50):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            return
        except OSError:
            pass
        time.sleep(0.005)
        if not other_pids():
            return


def start_child(cfg):
    limits = cfg['limits']
    os.closerange(3, 65536)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGXCPU):
        signal.signal(sig, signal.SIG_DFL)
    memory = limits['memory_mb'] * MB
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (limits['cpu_seconds'], limits['cpu_seconds'] + 1))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits['processes'], limits['processes']))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits['file_size_mb'] * MB, limits['file_size_mb'] * MB))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits['open_files'], limits['open_files']))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_MEMLOCK, (0, 0))
    os.execve(cfg['argv'][0], cfg['argv'], cfg['env'])


def supervise(cfg, pid):
    limits = cfg['limits']
    started = time.monotonic()
    deadline = started + limits['wall_seconds']
    memory = limits['memory_mb'] * MB
    limit = None
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done == pid:
            break
        if limit is None and time.monotonic() >= deadline:
            limit = 'wall_clock'
            kill_all()
        elif limit is None and resident_bytes(other_pids()) > memory:
            limit = 'memory'
            kill_all()
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    kill_all()
    cpu = usage.ru_utime + usage.ru_stime
    exit_code = os.waitstatus_to_exitcode(status)
    signame = None
    if exit_code < 0:
        sig = -exit_code
        try:
            signame = signal.Signals(sig).name
        except ValueError:
            signame = str(sig)
        if limit is None and (sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= limits['cpu_seconds'])):
            limit = 'cpu'
        if limit is None and sig == signal.SIGXFSZ:
            limit = 'file_size'
    return {
        'type': 'exit',
        'exit_code': exit_code if exit_code >= 0 else None,
        'signal': signame,
        'limit': limit,
        'cpu_ms': int(cpu * 1000),
        'wall_ms': int(elapsed * 1000),
        'max_rss_kb': usage.ru_maxrss,
    }


def collect_outputs(cfg, fd):
    outputs = cfg['outputs']
    try:
        names = sorted(os.listdir(outputs['dir']))
    except OSError:
        return
    count = 0
    total = 0
    for name in names:
        path = os.path.join(outputs['dir'], name)
        try:
            handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            report(fd, {'type': 'skipped', 'name': name, 'reason': 'not a regular file'})
            continue
        try:
            info = os.fstat(handle)
            if not stat.S_ISREG(info.st_mode):
                report(fd, {'type': 'skipped', 'name': name, 'reason': 'not a regular file'})
                continue
            if count >= outputs['max_files']:
                report(fd, {'type': 'skipped', 'name': name, 'reason': 'too many output files'})
                continue
            if total + info.st_size > outputs['max_bytes']:
                report(fd, {'type': 'skipped', 'name': name, 'reason': 'outputs too large'})
                continue
            chunks = []
            remaining = info.st_size
            while remaining > 0:
                chunk = os.read(handle, min(remaining, MB))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            data = b''.join(chunks)
            count += 1
            total += len(data)
            report(fd, {'type': 'file', 'name': name, 'size': len(data)}, data)
        finally:
            os.close(handle)


def main():
    cfg = json.loads(sys.argv[1])
    fd = cfg['report_fd']
    os.set_inheritable(fd, False)
    make_undumpable()
    pid = os.fork()
    if pid == 0:
        try:
            start_child(cfg)
        except BaseException as err:
            os.write(2, ('sandbox: cannot start %s: %s\n' % (cfg['argv'][0], err)).encode())
        os._exit(127)
    result = supervise(cfg, pid)
    collect_outputs(cfg, fd)
    report(fd, result)


main()
`;
