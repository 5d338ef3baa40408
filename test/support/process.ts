/** Runs the real `agentic` command as a child process (through tsx), for crash and restart tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

export interface ServiceProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/**
 * Starts an agentic process (by default `agentic serve`; `args` picks another entry and role) with
 * the given environment, and waits until it says it is ready (and where it listens, if it does).
 */
export function startServiceProcess(
  env: Record<string, string>,
  options: { args?: string[]; timeoutMs?: number } = {},
): Promise<ServiceProcess> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const args = options.args ?? [join(ROOT, 'src/cli/main.ts'), 'serve'];
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service did not start:\n${out}`)), timeoutMs);
    let ready = false;
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (ready) return;
      const match = /"url":("http:\/\/[^"]+"|null)[^\n]*ready/.exec(out);
      if (match) {
        ready = true;
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({ child, url: match[1] === 'null' ? '' : (JSON.parse(match[1]!) as string), output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code}:\n${out}`));
    });
  });
}

export function killHard(p: ServiceProcess): Promise<void> {
  return stopWith(p, 'SIGKILL');
}

/** Sends a signal and waits for the process to exit. */
export function stopWith(p: ServiceProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
    p.child.removeAllListeners('exit');
    p.child.once('exit', () => resolve());
    p.child.kill(signal);
  });
}
