/**
 * A seccomp filter for the sandbox, written as classic BPF by hand so that no native library is
 * needed. bubblewrap loads it (`--seccomp FD`) just before it executes the command, so it binds the
 * launcher and everything the sandboxed code starts.
 *
 * The namespaces and the dropped capabilities already make most of these calls fail; the filter
 * is the second wall, and it also shrinks the kernel surface that the code can reach (io_uring,
 * bpf, perf_event_open, userfaultfd and keyctl have all had privilege-escalation bugs).
 *
 * Policy: a deny list. Calls of another architecture (i386 via `int 0x80`, x32) kill the process,
 * because their numbers would slip past the list. `clone3` answers ENOSYS so that libc falls back
 * to `clone`, whose flags the filter can inspect: a `clone` that asks for a new namespace fails with
 * EPERM, as do `unshare` and `setns`.
 */

/** The architectures the filter knows syscall numbers for. */
export type SeccompArch = 'x64' | 'arm64';

const EPERM = 1;
const ENOSYS = 38;

const AUDIT_ARCH: Record<SeccompArch, number> = { x64: 0xc000003e, arm64: 0xc00000b7 };
const X32_SYSCALL_BIT = 0x40000000;

/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME (0x80, in the low bits). */
const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x80;

/** Denied calls, by name: all fail with EPERM. */
const DENIED = [
  'ptrace',
  'process_vm_readv',
  'process_vm_writev',
  'mount',
  'umount2',
  'pivot_root',
  'chroot',
  'swapon',
  'swapoff',
  'reboot',
  'sethostname',
  'setdomainname',
  'init_module',
  'finit_module',
  'delete_module',
  'kexec_load',
  'kexec_file_load',
  'acct',
  'quotactl',
  'keyctl',
  'add_key',
  'request_key',
  'unshare',
  'setns',
  'bpf',
  'perf_event_open',
  'userfaultfd',
  'open_by_handle_at',
  'name_to_handle_at',
  'syslog',
  'personality',
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  'open_tree',
  'move_mount',
  'fsopen',
  'fsconfig',
  'fsmount',
  'fspick',
  'mount_setattr',
  'settimeofday',
  'clock_settime',
  'clock_adjtime',
  'adjtimex',
  'vhangup',
  'lookup_dcookie',
  'iopl',
  'ioperm',
  'modify_ldt',
] as const;

type SyscallName = (typeof DENIED)[number] | 'clone' | 'clone3';

/** Syscalls added since Linux 5.1 have one number on every architecture. */
const UNIFIED = {
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  clone3: 435,
  mount_setattr: 442,
} as const satisfies Partial<Record<SyscallName, number>>;

/** Syscall numbers; a name missing from an architecture's table does not exist there. */
const NUMBERS: Record<SeccompArch, Partial<Record<SyscallName, number>>> = {
  x64: {
    ptrace: 101,
    process_vm_readv: 310,
    process_vm_writev: 311,
    mount: 165,
    umount2: 166,
    pivot_root: 155,
    chroot: 161,
    swapon: 167,
    swapoff: 168,
    reboot: 169,
    sethostname: 170,
    setdomainname: 171,
    init_module: 175,
    finit_module: 313,
    delete_module: 176,
    kexec_load: 246,
    kexec_file_load: 320,
    acct: 163,
    quotactl: 179,
    keyctl: 250,
    add_key: 248,
    request_key: 249,
    unshare: 272,
    setns: 308,
    bpf: 321,
    perf_event_open: 298,
    userfaultfd: 323,
    open_by_handle_at: 304,
    name_to_handle_at: 303,
    syslog: 103,
    personality: 135,
    ...UNIFIED,
    settimeofday: 164,
    clock_settime: 227,
    clock_adjtime: 305,
    adjtimex: 159,
    vhangup: 153,
    lookup_dcookie: 212,
    iopl: 172,
    ioperm: 173,
    modify_ldt: 154,
    clone: 56,
  },
  arm64: {
    ptrace: 117,
    process_vm_readv: 270,
    process_vm_writev: 271,
    mount: 40,
    umount2: 39,
    pivot_root: 41,
    chroot: 51,
    swapon: 224,
    swapoff: 225,
    reboot: 142,
    sethostname: 161,
    setdomainname: 162,
    init_module: 105,
    finit_module: 273,
    delete_module: 106,
    kexec_load: 104,
    kexec_file_load: 294,
    acct: 89,
    quotactl: 60,
    keyctl: 219,
    add_key: 217,
    request_key: 218,
    unshare: 97,
    setns: 268,
    bpf: 280,
    perf_event_open: 241,
    userfaultfd: 282,
    open_by_handle_at: 265,
    name_to_handle_at: 264,
    syslog: 116,
    personality: 92,
    ...UNIFIED,
    settimeofday: 170,
    clock_settime: 112,
    clock_adjtime: 266,
    adjtimex: 171,
    vhangup: 58,
    lookup_dcookie: 18,
    clone: 220,
  },
};

// Classic BPF opcodes and seccomp return values (linux/filter.h, linux/seccomp.h).
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JSET_K = 0x45;
const RET_K = 0x06;
const RET_ALLOW = 0x7fff0000;
const RET_KILL_PROCESS = 0x80000000;
const RET_ERRNO = 0x00050000;

// Offsets in struct seccomp_data: nr, arch, instruction_pointer, args[6] (little-endian 64-bit).
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
const OFFSET_ARG0_LOW = 16;

type Target = 'deny' | 'enosys' | 'allow' | 'kill';

/** One instruction; jumps name a target block that is resolved to an offset when assembling. */
type Insn =
  | { code: number; k: number }
  | { code: number; k: number; jt: Target | 0; jf: Target | 0 }
  | { label: Target };

/** The architecture of this process, or null when the filter has no table for it. */
export function currentSeccompArch(): SeccompArch | null {
  if (process.arch === 'x64' || process.arch === 'arm64') return process.arch;
  return null;
}

/** The syscall names the filter refuses with EPERM. */
export function deniedSyscalls(): readonly string[] {
  return DENIED;
}

function program(arch: SeccompArch): Insn[] {
  const numbers = NUMBERS[arch];
  const insns: Insn[] = [
    { code: LD_W_ABS, k: OFFSET_ARCH },
    { code: JEQ_K, k: AUDIT_ARCH[arch], jt: 0, jf: 'kill' },
    { code: LD_W_ABS, k: OFFSET_NR },
  ];
  if (arch === 'x64') insns.push({ code: JSET_K, k: X32_SYSCALL_BIT, jt: 'kill', jf: 0 });
  for (const name of DENIED) {
    const nr = numbers[name];
    if (nr !== undefined) insns.push({ code: JEQ_K, k: nr, jt: 'deny', jf: 0 });
  }
  insns.push({ code: JEQ_K, k: numbers.clone3 as number, jt: 'enosys', jf: 0 });
  insns.push({ code: JEQ_K, k: numbers.clone as number, jt: 0, jf: 'allow' });
  // clone: refuse namespace flags (BPF jumps only forward, so this block sits before 'allow').
  insns.push({ code: LD_W_ABS, k: OFFSET_ARG0_LOW });
  insns.push({ code: JSET_K, k: CLONE_NAMESPACE_FLAGS, jt: 'deny', jf: 'allow' });
  insns.push({ label: 'allow' }, { code: RET_K, k: RET_ALLOW });
  insns.push({ label: 'deny' }, { code: RET_K, k: RET_ERRNO | EPERM });
  insns.push({ label: 'enosys' }, { code: RET_K, k: RET_ERRNO | ENOSYS });
  insns.push({ label: 'kill' }, { code: RET_K, k: RET_KILL_PROCESS });
  return insns;
}

/** Resolves labels to relative jump offsets and encodes struct sock_filter[] (8 bytes each). */
function assemble(insns: Insn[]): Buffer {
  const code = insns.filter((i): i is Exclude<Insn, { label: Target }> => !('label' in i));
  const labels = new Map<Target, number>();
  let index = 0;
  for (const insn of insns) {
    if ('label' in insn) labels.set(insn.label, index);
    else index += 1;
  }
  const out = Buffer.alloc(code.length * 8);
  code.forEach((insn, i) => {
    const offset = (target: Target | 0): number => {
      if (target === 0) return 0;
      const jump = (labels.get(target) as number) - i - 1;
      if (jump < 0 || jump > 255) throw new Error(`seccomp: jump to ${target} out of range (${jump})`);
      return jump;
    };
    out.writeUInt16LE(insn.code, i * 8);
    out.writeUInt8('jt' in insn ? offset(insn.jt) : 0, i * 8 + 2);
    out.writeUInt8('jf' in insn ? offset(insn.jf) : 0, i * 8 + 3);
    out.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
  });
  return out;
}

/** The compiled filter for `arch`, ready to hand to `bwrap --seccomp FD`. */
export function buildSeccompFilter(arch: SeccompArch): Buffer {
  return assemble(program(arch));
}
