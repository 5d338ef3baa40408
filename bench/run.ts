/**
 * `npm run bench`: the react-5 workloads against real agentic processes, embedded and distributed.
 *
 *   W1  1,000 tasks, 50 at once, 0 ms per model turn  → tasks/s, p50/p99 task latency
 *   W2  1,000 tasks all at once, 1,000 ms per turn   → wall time (ideal 5 s), peak RSS
 *   W3  one task at a time, 50 ms per turn          → delay from a turn's completion to its SSE event
 *
 * Options: --mode embedded|distributed|both (default both), --only W1,W2,W3, --tasks N (W1/W2 size).
 * Distributed mode needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test)
 * and Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Agent, request, setGlobalDispatcher } from 'undici';
import { nowMs } from './react5.js';

setGlobalDispatcher(new Agent({ connections: null, pipelining: 0, keepAliveTimeout: 30_000 }));

const ROOT = join(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'both' },
    only: { type: 'string', default: 'W1,W2,W3' },
    tasks: { type: 'string', default: '1000' },
  },
});
const TASKS = Number(values.tasks);
const ONLY = new Set(values.only!.split(','));
const DB_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Proc {
  child: ChildProcess;
  url?: string;
}

interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

/** Asks each process for its event-loop delay since it was ready (ms: p50, p99, max). */
async function loopDelays(procs: Proc[]): Promise<LoopDelay[]> {
  return Promise.all(
    procs.map(
      (p) =>
        new Promise<LoopDelay>((resolve) => {
          let out = '';
          const onData = (b: Buffer) => {
            out += b.toString();
            const m = /BENCH_LOOP_DELAY (\{[^\n]*\})/.exec(out);
            if (!m) return;
            p.child.stdout!.off('data', onData);
            resolve(JSON.parse(m[1]!) as LoopDelay);
          };
          p.child.stdout!.on('data', onData);
          // A process that has died (or does not answer) reports nothing rather than hanging the run.
          const none = () => resolve({ p50: NaN, p99: NaN, max: NaN });
          setTimeout(none, 5000).unref();
          if (!p.child.kill('SIGUSR2')) none();
        }),
    ),
  );
}

function startProcess(role: string, env: Record<string, string>): Promise<Proc> {
  // BENCH_NODE_ARGS adds Node flags to each service process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(ROOT, 'bench/service.ts'), role], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /"url":("http:\/\/[^"]+"|null)[^\n]*ready/.exec(out);
      if (m) {
        child.stdout!.off('data', onData);
        // BENCH_LOG_DIR keeps each process's log (for looking into a slow run); otherwise it is dropped.
        if (process.env.BENCH_LOG_DIR) {
          const log = createWriteStream(join(process.env.BENCH_LOG_DIR, `${role}-${child.pid}.log`));
          log.write(out);
          child.stdout!.pipe(log);
          child.stderr!.pipe(log);
        } else {
          child.stdout!.resume();
          child.stderr!.resume();
        }
        resolve({ child, url: m[1] === 'null' ? undefined : JSON.parse(m[1]!) });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    child.on('exit', (code) => reject(new Error(`${role} exited with ${code}\n${out}`)));
  });
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Math.round(Number(m[1]) / 1024) : 0;
}

/** CPU time (user + system) a process has used, in ms, from /proc; 0 once it is gone. */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** Linux's USER_HZ: /proc reports CPU time in these ticks. */
const CLOCK_TICKS = 100;

/** CPU time of every PostgreSQL server process on this machine, in ms (distributed mode's database). */
function postgresCpuMs(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') total += cpuMs(Number(pid));
    } catch {
      // The process ended while being read.
    }
  }
  return total;
}

/**
 * Where a workload's CPU time went, per task: the benchmark client, each service process and the
 * PostgreSQL server. Taken between `start` and `end`, so process start-up is left out.
 */
function cpuMeter(procs: Proc[], shape: Shape) {
  const client = process.cpuUsage();
  const service = procs.map((p) => cpuMs(p.child.pid!));
  // The machine's PostgreSQL server serves distributed mode; the embedded shape does not use it.
  const usesPostgres = shape.name === 'distributed';
  const postgres = usesPostgres ? postgresCpuMs() : 0;
  return (tasks: number) => {
    const used = process.cpuUsage(client);
    const perTask = (ms: number) => round(ms / tasks, 2);
    return {
      client: perTask((used.user + used.system) / 1000),
      service: procs.map((p, i) => perTask(cpuMs(p.child.pid!) - service[i]!)),
      ...(usesPostgres ? { postgres: perTask(postgresCpuMs() - postgres) } : {}),
    };
  };
}

async function stop(procs: Proc[]): Promise<void> {
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((resolve) => {
          p.child.removeAllListeners('exit');
          p.child.once('exit', () => resolve());
          p.child.kill('SIGTERM');
          setTimeout(() => p.child.kill('SIGKILL'), 5000).unref();
        }),
    ),
  );
}

interface Shape {
  name: string;
  start(latencyMs: number, workerConcurrency: number): Promise<{ url: string; procs: Proc[]; cleanup(): Promise<void> }>;
}

/** The settings every service process of a workload gets, for a shape with `workers` worker processes. */
function workloadEnv(latencyMs: number, workerConcurrency: number, workers: number): Record<string, string> {
  return {
    BENCH_LATENCY_MS: String(latencyMs),
    AGENTIC_WORKER_CONCURRENCY: String(workerConcurrency),
    // Every benchmark task belongs to one tenant: its cap on running steps must not be the limit measured.
    AGENTIC_TENANT_MAX_RUNNING: String(workers * workerConcurrency),
    AGENTIC_MAX_BACKLOG: '100000',
  };
}

const embedded: Shape = {
  name: 'embedded',
  async start(latencyMs, workerConcurrency) {
    const dir = mkdtempSync(join(tmpdir(), 'agentic-bench-'));
    const p = await startProcess('all', {
      AGENTIC_DATA_DIR: dir,
      ...workloadEnv(latencyMs, workerConcurrency, 1),
    });
    return { url: p.url!, procs: [p], cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  },
};

const distributed: Shape = {
  name: 'distributed',
  async start(latencyMs, workerConcurrency) {
    const schema = `bench_${Date.now().toString(36)}`;
    const env = {
      DATABASE_URL: DB_URL,
      AGENTIC_DB_SCHEMA: schema,
      REDIS_URL,
      AGENTIC_REDIS_PREFIX: `agentic-${schema}`,
      ...workloadEnv(latencyMs, workerConcurrency, 2),
    };
    const api = await startProcess('api', env);
    const workers = await Promise.all([startProcess('worker', env), startProcess('worker', env)]);
    return {
      url: api.url!,
      procs: [api, ...workers],
      cleanup: async () => {
        if (process.env.BENCH_KEEP) return console.error(`kept schema ${schema}`);
        const client = new pg.Client({ connectionString: DB_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      },
    };
  },
};

async function createTask(url: string): Promise<string> {
  // undici's own request API: the client shares the machine with the service, so it should cost little.
  for (;;) {
    const res = await request(`${url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"input":"react-5"}' });
    if (res.statusCode === 202) return ((await res.body.json()) as { id: string }).id;
    if (res.statusCode === 429) {
      await res.body.dump();
      await new Promise((r) => setTimeout(r, Number(res.headers['retry-after'] ?? 1) * 1000));
      continue;
    }
    throw new Error(`create: ${res.statusCode} ${await res.body.text()}`);
  }
}

/** Follows a task's NDJSON stream to its end; calls `onEvent` with each event and its arrival time. */
async function follow(url: string, id: string, onEvent?: (e: { type: string; data: Record<string, unknown> }, at: number) => void): Promise<string> {
  const res = await request(`${url}/v1/tasks/${id}/events?format=ndjson`);
  res.body.setEncoding('utf8');
  let buffer = '';
  let last = '';
  for await (const chunk of res.body) {
    const at = nowMs();
    buffer += chunk as string;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (!line.trim()) continue;
      const e = JSON.parse(line) as { type: string; data: Record<string, unknown> };
      last = e.type;
      onEvent?.(e, at);
    }
  }
  return last;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

async function w1(shape: Shape) {
  const svc = await shape.start(0, 256);
  try {
    const latencies: number[] = [];
    let next = 0;
    let failed = 0;
    const cpu = cpuMeter(svc.procs, shape);
    const t0 = nowMs();
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < TASKS) {
          next++;
          const start = nowMs();
          const id = await createTask(svc.url);
          if ((await follow(svc.url, id)) !== 'task_completed') failed++;
          latencies.push(nowMs() - start);
          if (nowMs() - start > 5000) console.error(`slow task ${id}: ${Math.round(nowMs() - start)} ms`);
        }
      }),
    );
    const wall = (nowMs() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      tasks: TASKS,
      failed,
      tasks_per_s: round(TASKS / wall),
      p50_ms: round(pct(latencies, 50)),
      p99_ms: round(pct(latencies, 99)),
      max_ms: round(latencies.at(-1) ?? NaN),
      cpu_ms_per_task: cpu(TASKS),
      peak_rss_mb: svc.procs.map((p) => peakRssMb(p.child.pid!)),
      loop_delay_ms: await loopDelays(svc.procs),
    };
  } finally {
    await stop(svc.procs);
    await svc.cleanup();
  }
}

async function w2(shape: Shape) {
  const svc = await shape.start(1000, 2 * TASKS);
  try {
    let failed = 0;
    const t0 = nowMs();
    const ids: string[] = [];
    // Submit all, at most 200 requests in flight; follow each as soon as it exists.
    const follows: Array<Promise<void>> = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 200 }, async () => {
        while (next < TASKS) {
          next++;
          const id = await createTask(svc.url);
          ids.push(id);
          follows.push(follow(svc.url, id).then((last) => void (last !== 'task_completed' && failed++)));
        }
      }),
    );
    const submitted = (nowMs() - t0) / 1000;
    await Promise.all(follows);
    const wall = (nowMs() - t0) / 1000;
    return {
      tasks: TASKS,
      failed,
      submit_s: round(submitted, 2),
      wall_s: round(wall, 2),
      ideal_s: 5,
      peak_rss_mb: svc.procs.map((p) => peakRssMb(p.child.pid!)),
      loop_delay_ms: await loopDelays(svc.procs),
    };
  } finally {
    await stop(svc.procs);
    await svc.cleanup();
  }
}

async function w3(shape: Shape) {
  const svc = await shape.start(50, 32);
  try {
    const delays: number[] = [];
    for (let i = 0; i < 40; i++) {
      const id = await createTask(svc.url);
      await follow(svc.url, id, (e, at) => {
        if (e.type === 'tool_call_started') delays.push(at - Number((e.data.args as { t: number }).t));
        if (e.type === 'step_completed') delays.push(at - Number(/t=([\d.]+)/.exec(String(e.data.output))![1]));
      });
    }
    delays.sort((a, b) => a - b);
    return { samples: delays.length, p50_ms: round(pct(delays, 50), 2), p99_ms: round(pct(delays, 99), 2) };
  } finally {
    await stop(svc.procs);
    await svc.cleanup();
  }
}

const shapes = values.mode === 'both' ? [embedded, distributed] : values.mode === 'distributed' ? [distributed] : [embedded];
const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memory_gb: Math.round(totalmem() / 2 ** 30), node: process.version },
};
for (const shape of shapes) {
  const r: Record<string, unknown> = {};
  if (ONLY.has('W1')) r.W1 = await w1(shape);
  if (ONLY.has('W2')) r.W2 = await w2(shape);
  if (ONLY.has('W3')) r.W3 = await w3(shape);
  results[shape.name] = r;
  console.log(shape.name, JSON.stringify(r, null, 2));
}
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(join(ROOT, 'bench/results/latest.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log('written to bench/results/latest.json');
process.exit(0);
