/**
 * Parses the launcher's report: JSON header lines, each `file` header followed by that many bytes,
 * ending with one `exit` record. The sandboxed code could in principle tamper with it, so this is
 * parsed as untrusted input: every record is validated, sizes must add up, names must be plain.
 */
import { z } from 'zod';

/** Why a run was stopped by the sandbox, when it was. */
export type SandboxLimitName = 'wall_clock' | 'cpu' | 'memory' | 'file_size' | 'output';

const exitRecord = z.object({
  type: z.literal('exit'),
  exit_code: z.number().int().nullable(),
  signal: z.string().max(32).nullable(),
  limit: z.enum(['wall_clock', 'cpu', 'memory', 'file_size']).nullable(),
  cpu_ms: z.number().int().nonnegative(),
  wall_ms: z.number().int().nonnegative(),
  max_rss_kb: z.number().int().nonnegative(),
});

const fileRecord = z.object({ type: z.literal('file'), name: z.string(), size: z.number().int().nonnegative() });
const skippedRecord = z.object({ type: z.literal('skipped'), name: z.string(), reason: z.string().max(200) });
const record = z.discriminatedUnion('type', [exitRecord, fileRecord, skippedRecord]);

export type ExitRecord = z.infer<typeof exitRecord>;

/** A file the code left in its outputs folder. */
export interface OutputFile {
  name: string;
  data: Buffer;
}

/** A file in the outputs folder that was not exported, and why. */
export interface SkippedOutput {
  name: string;
  reason: string;
}

export interface LauncherReport {
  /** Null when the launcher did not finish its report (killed, or the sandbox never started). */
  exit: ExitRecord | null;
  files: OutputFile[];
  skipped: SkippedOutput[];
  /** Set when the bytes did not parse; what parsed before the damage is kept. */
  corrupt: boolean;
}

const MAX_NAME = 200;

/** Whether `name` can be an artifact name: one plain path segment, printable, at most 200 characters. */
export function isPlainFileName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= MAX_NAME &&
    name !== '.' &&
    name !== '..' &&
    !name.includes('/') &&
    !name.includes('\\') &&
    // eslint-disable-next-line no-control-regex
    !/[\u0000-\u001f\u007f]/.test(name) &&
    !name.includes('\ufffd')
  );
}

export function parseLauncherReport(bytes: Buffer): LauncherReport {
  const result: LauncherReport = { exit: null, files: [], skipped: [], corrupt: false };
  let pos = 0;
  while (pos < bytes.length) {
    const newline = bytes.indexOf(0x0a, pos);
    if (newline < 0) return { ...result, corrupt: true };
    let parsed: z.infer<typeof record>;
    try {
      parsed = record.parse(JSON.parse(bytes.subarray(pos, newline).toString('utf8')));
    } catch {
      return { ...result, corrupt: true };
    }
    pos = newline + 1;
    if (parsed.type === 'exit') {
      result.exit = parsed;
      // The exit record is last; anything after it was not written by the launcher.
      if (pos !== bytes.length) return { ...result, corrupt: true };
    } else if (parsed.type === 'skipped') {
      result.skipped.push({ name: parsed.name, reason: parsed.reason });
    } else {
      if (pos + parsed.size > bytes.length) return { ...result, corrupt: true };
      const data = Buffer.from(bytes.subarray(pos, pos + parsed.size));
      pos += parsed.size;
      if (isPlainFileName(parsed.name)) result.files.push({ name: parsed.name, data });
      else result.skipped.push({ name: parsed.name.slice(0, MAX_NAME), reason: 'name is not a plain file name' });
    }
  }
  return result;
}
