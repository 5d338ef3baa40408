import { describe, expect, it } from 'vitest';
import { buildSeccompFilter, currentSeccompArch, deniedSyscalls } from './seccomp.js';

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

function decode(buf: Buffer): Insn[] {
  const out: Insn[] = [];
  for (let i = 0; i < buf.length; i += 8) {
    out.push({ code: buf.readUInt16LE(i), jt: buf.readUInt8(i + 2), jf: buf.readUInt8(i + 3), k: buf.readUInt32LE(i + 4) });
  }
  return out;
}

/** A tiny classic-BPF interpreter for the opcodes the filter uses, to check its verdicts. */
function verdict(prog: Insn[], data: { arch: number; nr: number; arg0?: number }): number {
  let acc = 0;
  for (let pc = 0; pc < prog.length; pc += 1) {
    const { code, jt, jf, k } = prog[pc] as Insn;
    if (code === 0x20) acc = k === 0 ? data.nr : k === 4 ? data.arch : k === 16 ? (data.arg0 ?? 0) : Number.NaN;
    else if (code === 0x15) pc += acc === k ? jt : jf;
    else if (code === 0x45) pc += (acc & k) !== 0 ? jt : jf;
    else if (code === 0x06) return k;
    else throw new Error(`unexpected opcode ${code}`);
  }
  throw new Error('fell off the end of the program');
}

const X64 = 0xc000003e;
const ALLOW = 0x7fff0000;
const EPERM = 0x00050001;
const ENOSYS = 0x00050026;
const KILL = 0x80000000;

describe('seccomp filter', () => {
  const prog = decode(buildSeccompFilter('x64'));

  it('is a whole number of sock_filter structs with every jump inside the program', () => {
    expect(buildSeccompFilter('x64').length % 8).toBe(0);
    prog.forEach((insn, pc) => {
      if (insn.code === 0x15 || insn.code === 0x45) {
        expect(pc + 1 + insn.jt).toBeLessThan(prog.length);
        expect(pc + 1 + insn.jf).toBeLessThan(prog.length);
      }
    });
  });

  it('kills calls made under another architecture and x32 calls', () => {
    expect(verdict(prog, { arch: 0x40000003, nr: 1 })).toBe(KILL);
    expect(verdict(prog, { arch: X64, nr: 0x40000000 + 101 })).toBe(KILL);
  });

  it('refuses the dangerous calls with EPERM and allows ordinary ones', () => {
    expect(verdict(prog, { arch: X64, nr: 101 })).toBe(EPERM); // ptrace
    expect(verdict(prog, { arch: X64, nr: 165 })).toBe(EPERM); // mount
    expect(verdict(prog, { arch: X64, nr: 250 })).toBe(EPERM); // keyctl
    expect(verdict(prog, { arch: X64, nr: 272 })).toBe(EPERM); // unshare
    expect(verdict(prog, { arch: X64, nr: 425 })).toBe(EPERM); // io_uring_setup
    expect(verdict(prog, { arch: X64, nr: 0 })).toBe(ALLOW); // read
    expect(verdict(prog, { arch: X64, nr: 59 })).toBe(ALLOW); // execve
    expect(verdict(prog, { arch: X64, nr: 57 })).toBe(ALLOW); // fork
  });

  it('answers clone3 with ENOSYS and refuses clone only when it asks for a namespace', () => {
    expect(verdict(prog, { arch: X64, nr: 435 })).toBe(ENOSYS);
    expect(verdict(prog, { arch: X64, nr: 56, arg0: 0x01200011 })).toBe(ALLOW); // fork-style clone
    expect(verdict(prog, { arch: X64, nr: 56, arg0: 0x10000000 | 17 })).toBe(EPERM); // CLONE_NEWUSER
    expect(verdict(prog, { arch: X64, nr: 56, arg0: 0x40000000 })).toBe(EPERM); // CLONE_NEWNET
  });

  it('has a table for arm64 too and knows this machine', () => {
    const arm = decode(buildSeccompFilter('arm64'));
    expect(verdict(arm, { arch: 0xc00000b7, nr: 117 })).toBe(EPERM); // ptrace on arm64
    expect(verdict(arm, { arch: X64, nr: 117 })).toBe(KILL);
    expect(deniedSyscalls()).toContain('bpf');
    expect(['x64', 'arm64', null]).toContain(currentSeccompArch());
  });
});
