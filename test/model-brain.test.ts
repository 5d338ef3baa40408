/**
 * Model brains end to end, offline: the real AI SDK providers talk to a local server that answers
 * like the OpenAI Chat Completions API and the Anthropic Messages API, replaying recorded responses
 * (test/__fixtures__/models). Whole tasks run through the real engine, store and tools, and the
 * misbehaving-model cases each end with a clear code and a consistent event log.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENTS } from '../src/agents/index.js';
import { createModelBrain, RedisCircuitBreakers, type ModelBrain } from '../src/brains/llm/index.js';
import type { PlanRequest } from '../src/brains/types.js';
import { loadConfig, parseModelSpec, type Config } from '../src/config/index.js';
import { call, expectFinishedLog, ndjsonLines, type Json } from './support/http.js';
import { startFakeModelServer, type FakeModelServer } from './support/model-server.js';
import { dropSchema, POSTGRES_URL, requirePostgres, uniqueSchema } from './support/postgres.js';
import { dropPrefix, REDIS_URL, requireRedis, uniquePrefix } from './support/redis.js';
import { startTestServer, type TestServer } from './support/server.js';

let fake: FakeModelServer | undefined;
let s: TestServer | undefined;

afterEach(async () => {
  await s?.close();
  await fake?.close();
  s = fake = undefined;
});

const spec = (id: string) => parseModelSpec(id)!;

/** A service whose brain is configured like a user would: AGENTIC_MODEL plus the provider's key and base URL. */
async function boot(model: string, extra: (f: FakeModelServer) => Partial<Config> = () => ({})): Promise<{ fake: FakeModelServer; s: TestServer }> {
  fake = await startFakeModelServer();
  s = await startTestServer({
    config: {
      model: spec(model),
      openaiApiKey: 'sk-test',
      openaiBaseUrl: fake.openaiBaseUrl,
      anthropicApiKey: 'sk-ant-test',
      anthropicBaseUrl: fake.anthropicBaseUrl,
      retryBaseMs: 1,
      retryCapMs: 5,
      // Failures end the task as they are unless a test asks for re-planning.
      maxReplans: 0,
      ...extra(fake),
    },
  });
  return { fake, s };
}

async function runTask(body: Json): Promise<{ id: string; events: Json[]; task: Json & { status: string; final_output: string | null; error: Json | null; usage: Json } }> {
  const created = await call<{ id: string }>(s!.url, '/v1/tasks', { json: body });
  expect(created.status, created.text).toBe(202);
  const id = created.body.id;
  const events = ndjsonLines((await call(s!.url, `/v1/tasks/${id}/events?format=ndjson`)).text);
  expectFinishedLog(events, id);
  const task = (await call(s!.url, `/v1/tasks/${id}`)).body as Json & { status: string; final_output: string | null; error: Json | null; usage: Json };
  return { id, events, task };
}

const QUESTION = { input: 'What is 15% of 2400 plus 12?' };
const ofType = (events: Json[], type: string) => events.filter((e) => e.type === type);
const lastUserText = (body: Record<string, unknown>) => JSON.stringify(body.messages);

describe('OpenAI (Chat Completions)', () => {
  it('plans, calls the calculator, streams partial output, answers, and reports usage and cost', async () => {
    await boot('openai:gpt-4.1-mini');
    fake!.queue('openai', 'openai/plan-two-steps', 'openai/calculator-call', 'openai/compute-final', 'openai/answer-final');
    const { id, events, task } = await runTask(QUESTION);

    expect(task.status).toBe('completed');
    expect(task.final_output).toBe('The answer is 372.');
    expect(ofType(events, 'plan_created')[0]!.data).toMatchObject({ brain: 'openai:gpt-4.1-mini', steps: [{ id: 'compute', agent: 'analyst' }, { id: 'answer', agent: 'writer' }] });
    const tool = ofType(events, 'tool_call_completed')[0]!.data as Json;
    expect(tool).toMatchObject({ tool: 'calculator', ok: true, result: { result: 372 } });
    const partial = ofType(events, 'partial_output').map((e) => (e.data as { text: string }).text).join('');
    expect(partial).toContain('372');

    // The wire: the plan as a strict JSON schema, tools with their JSON Schemas, usage in the stream.
    const [plan, first, second] = fake!.received('openai');
    expect((plan!.body.response_format as Json).type).toBe('json_schema');
    expect(first!.body).toMatchObject({ model: 'gpt-4.1-mini', stream: true, stream_options: { include_usage: true } });
    expect((first!.body.tools as Array<{ function: { name: string } }>).map((t) => t.function.name)).toContain('calculator');
    expect(lastUserText(second!.body)).toContain('<data source=\\"result of tool calculator\\">');

    // 4 calls: (812+1020+1100+640) in, (156+24+18+9) out, 512+768 cached; gpt-4.1-mini at 0.4/1.6/0.1 USD per M.
    expect(task.usage).toMatchObject({ model_calls: 4, input_tokens: 3572, output_tokens: 207, cached_tokens: 1280 });
    expect(task.usage.cost_usd as number).toBeCloseTo(0.001376, 9);
    const metrics = (await call(s!.url, `/v1/tasks/${id}/metrics`)).body as Json & { steps: Json[] };
    expect(metrics).toMatchObject({ input_tokens: 3572, output_tokens: 207, cached_tokens: 1280 });
    expect(metrics.steps.find((st) => st.step_id === 'compute')).toMatchObject({ input_tokens: 2120, output_tokens: 42, cached_tokens: 1280 });
  });

  it('says which model runs in /health', async () => {
    await boot('openai:gpt-4.1-mini');
    const health = (await call(s!.url, '/health')).body;
    expect(health).toMatchObject({ brain: 'openai:gpt-4.1-mini', model: 'openai:gpt-4.1-mini' });
  });
});

describe('Anthropic (Messages)', () => {
  it('runs a whole task: plan, tool use, streamed answer, usage with cached tokens', async () => {
    await boot('anthropic:claude-sonnet-4-5');
    fake!.queue('anthropic', 'anthropic/plan-one-step', 'anthropic/calculator-call', 'anthropic/compute-final');
    const { events, task } = await runTask(QUESTION);
    expect(task.status).toBe('completed');
    expect(task.final_output).toBe('15% of 2400 plus 12 is **372**.');
    expect(ofType(events, 'tool_call_completed')[0]!.data).toMatchObject({ tool: 'calculator', ok: true, result: { result: 372 } });
    expect(ofType(events, 'partial_output').length).toBeGreaterThan(0);
    const [, first, second] = fake!.received('anthropic');
    expect(first!.body).toMatchObject({ model: 'claude-sonnet-4-5', stream: true });
    expect(JSON.stringify(second!.body.messages)).toContain('tool_result');
    // Anthropic's input_tokens exclude cache reads; the SDK (and so our count) includes them.
    expect(task.usage).toMatchObject({ model_calls: 3, input_tokens: 1200 + 1500 + 1024 + 1650 + 1024, output_tokens: 140 + 60 + 20, cached_tokens: 2048 });
    // claude-sonnet-4-5 at 3/15/0.3 USD per M: 4350 fresh, 2048 cached, 220 out.
    expect(task.usage.cost_usd as number).toBeCloseTo((4350 * 3 + 2048 * 0.3 + 220 * 15) / 1e6, 9);
  });
});

describe('retries and roles', () => {
  it('a 429 on a streamed turn is retried after Retry-After, without failing the attempt', async () => {
    await boot('openai:gpt-4.1-mini');
    fake!.queue('openai', 'openai/plan-one-step', 'openai/rate-limited', 'openai/calculator-call', 'openai/compute-final');
    const { task, events } = await runTask(QUESTION);
    expect(task.status).toBe('completed');
    expect(ofType(events, 'step_retrying')).toHaveLength(0);
    expect(fake!.received('openai')).toHaveLength(4);
    expect(task.usage).toMatchObject({ model_calls: 3 });
  });

  it("Anthropic's 529 overloaded is retried", async () => {
    await boot('anthropic:claude-sonnet-4-5');
    fake!.queue('anthropic', 'anthropic/overloaded', 'anthropic/plan-one-step', 'anthropic/calculator-call', 'anthropic/overloaded', 'anthropic/compute-final');
    const { task } = await runTask(QUESTION);
    expect(task.status).toBe('completed');
    expect(fake!.received('anthropic')).toHaveLength(5);
  });

  it('AGENTIC_MODEL_PLANNER gives the planner its own model; agents use AGENTIC_MODEL', async () => {
    await boot('openai:gpt-4.1-mini', () => ({ modelPlanner: spec('anthropic:claude-sonnet-4-5') }));
    fake!.queue('anthropic', 'anthropic/plan-one-step');
    fake!.queue('openai', 'openai/calculator-call', 'openai/compute-final');
    const { id, task } = await runTask(QUESTION);
    expect(task.status).toBe('completed');
    expect(fake!.received('anthropic')).toHaveLength(1);
    expect(fake!.received('openai')).toHaveLength(2);
    const metrics = (await call(s!.url, `/v1/tasks/${id}/metrics`)).body as Json;
    // plan: 1200 in / 140 out on Sonnet; turns: 2120 in (1280 cached) / 42 out on gpt-4.1-mini.
    const expected = (1200 * 3 + 140 * 15) / 1e6 + (840 * 0.4 + 1280 * 0.1 + 42 * 1.6) / 1e6;
    expect(metrics.cost_usd as number).toBeCloseTo(expected, 9);
  });
});

describe('a provider that stalls', () => {
  const stalled = { status: 200, hang: true, sse: [{ data: { id: 'chatcmpl-stall', object: 'chat.completion.chunk', created: 1763700000, model: 'gpt-4.1-mini', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] } }] };

  it('a call past AGENTIC_MODEL_TIMEOUT_MS fails with MODEL_UNAVAILABLE (timeout)', async () => {
    await boot('openai:gpt-4.1-mini', () => ({ modelTimeoutMs: 300, modelAttempts: 1 }));
    fake!.queue('openai', 'openai/plan-one-step', stalled);
    const { task } = await runTask({ ...QUESTION, options: { retry_attempts: 1 } });
    expect(task.status).toBe('failed');
    expect(task.error).toMatchObject({ code: 'MODEL_UNAVAILABLE', details: { reason: 'timeout' } });
    await expect.poll(() => fake!.aborted).toBe(1);
  });

  it('cancelling the task aborts the model call in flight', async () => {
    await boot('openai:gpt-4.1-mini');
    fake!.queue('openai', 'openai/plan-one-step', stalled);
    const created = await call<{ id: string }>(s!.url, '/v1/tasks', { json: QUESTION });
    await expect.poll(() => fake!.received('openai').length).toBe(2);
    expect((await call(s!.url, `/v1/tasks/${created.body.id}/cancel`, { method: 'POST' })).status).toBe(202);
    const events = ndjsonLines((await call(s!.url, `/v1/tasks/${created.body.id}/events?format=ndjson`)).text);
    expectFinishedLog(events, created.body.id);
    expect(events.at(-1)!.type).toBe('task_cancelled');
    await expect.poll(() => fake!.aborted).toBe(1);
  });
});

describe('OpenAI-compatible servers', () => {
  it('ollama:MODEL talks to ${OLLAMA_HOST}/v1; an unpriced model costs 0', async () => {
    await boot('ollama:llama3.1:8b', (f) => ({ ollamaHost: `${f.url}/openai` }));
    fake!.queue('openai', 'openai/plan-one-step', 'openai/calculator-call', 'openai/compute-final');
    const { task } = await runTask(QUESTION);
    expect(task.status).toBe('completed');
    expect(fake!.received('openai')[0]!.body.model).toBe('llama3.1:8b');
    expect(task.usage).toMatchObject({ model_calls: 3, cost_usd: 0 });
    expect(task.usage.input_tokens as number).toBeGreaterThan(0);
  });

  it('openai-compatible:MODEL uses AGENTIC_MODEL_BASE_URL and AGENTIC_MODEL_API_KEY', async () => {
    await boot('openai-compatible:qwen2.5-7b-instruct', (f) => ({ modelBaseUrl: f.openaiBaseUrl, modelApiKey: 'vllm-key' }));
    fake!.queue('openai', 'openai/plan-one-step', 'openai/calculator-call', 'openai/compute-final');
    const { task } = await runTask(QUESTION);
    expect(task.status).toBe('completed');
    expect(fake!.received('openai')[0]!.headers.authorization).toBe('Bearer vllm-key');
  });
});

describe('a model that misbehaves', () => {
  it('an answer that is not JSON is sent back with the problem and the corrected plan is used', async () => {
    await boot('openai:gpt-4.1-mini');
    fake!.queue('openai', 'openai/plan-not-json', 'openai/plan-one-step', 'openai/calculator-call', 'openai/compute-final');
    const { task } = await runTask(QUESTION);
    expect(task.status).toBe('completed');
    const repair = fake!.received('openai')[1]!;
    expect(lastUserText(repair.body)).toContain('That plan is invalid');
    expect(lastUserText(repair.body)).toContain('not a plan matching the schema');
  });

  it('a plan with a cycle is repaired twice, then the task fails with PLAN_INVALID', async () => {
    await boot('openai:gpt-4.1-mini');
    fake!.queue('openai', 'openai/plan-cycle', 'openai/plan-cycle', 'openai/plan-not-json');
    const { id, task, events } = await runTask(QUESTION);
    expect(task.status).toBe('failed');
    expect(task.error).toMatchObject({ code: 'PLAN_INVALID' });
    expect(lastUserText(fake!.received('openai')[1]!.body)).toContain('the steps form a cycle');
    expect(fake!.received('openai')).toHaveLength(3);
    expect(ofType(events, 'plan_created')).toHaveLength(0);
    expect(await s!.app.store.listSteps(id)).toHaveLength(0);
    // The three calls were billed, so they count, though no plan came of them.
    expect(task.usage).toMatchObject({ model_calls: 1 });
    expect(task.usage.input_tokens as number).toBeGreaterThanOrEqual(1800);
  });

  it('a call to a tool the step may not use goes back to the model as TOOL_NOT_ALLOWED', async () => {
    await boot('openai:gpt-4.1-mini');
    fake!.queue('openai', 'openai/plan-one-step', 'openai/unknown-tool-call', 'openai/compute-final');
    const { task, events } = await runTask(QUESTION);
    expect(task.status).toBe('completed');
    expect(ofType(events, 'tool_call_started')).toHaveLength(0);
    expect(lastUserText(fake!.received('openai')[2]!.body)).toContain('TOOL_NOT_ALLOWED');
  });

  it('invalid tool arguments go back to the model as TOOL_INPUT_INVALID, not to the tool', async () => {
    await boot('openai:gpt-4.1-mini');
    fake!.queue('openai', 'openai/plan-one-step', 'openai/invalid-args-call', 'openai/compute-final');
    const { task, events } = await runTask(QUESTION);
    expect(task.status).toBe('completed');
    expect(ofType(events, 'tool_call_completed')[0]!.data).toMatchObject({ ok: false, error: { code: 'TOOL_INPUT_INVALID' } });
    expect(lastUserText(fake!.received('openai')[2]!.body)).toContain('TOOL_INPUT_INVALID');
  });

  it('endless tool calls end the step with MAX_ITERATIONS_EXCEEDED', async () => {
    await boot('openai:gpt-4.1-mini');
    fake!.queue('openai', 'openai/plan-one-step', 'openai/calculator-call', 'openai/calculator-call', 'openai/calculator-call');
    const { task, events } = await runTask({ ...QUESTION, options: { max_iterations: 3 } });
    expect(task.status).toBe('failed');
    expect(task.error).toMatchObject({ code: 'MAX_ITERATIONS_EXCEEDED' });
    expect(ofType(events, 'tool_call_completed')).toHaveLength(3);
    expect(fake!.pending('openai')).toBe(0);
  });

  it('an empty answer is retried once; a second one fails the step with BRAIN_ERROR', async () => {
    await boot('openai:gpt-4.1-mini');
    fake!.queue('openai', 'openai/plan-one-step', 'openai/empty-answer', 'openai/empty-answer', 'openai/compute-final');
    const { task, events } = await runTask(QUESTION);
    expect(task.status).toBe('failed');
    expect(task.error).toMatchObject({ code: 'BRAIN_ERROR', details: { reason: 'empty_answer' } });
    expect(ofType(events, 'step_retrying')).toHaveLength(1);
    expect(fake!.pending('openai')).toBe(1);
    // The empty answers were billed: the plan (700 in) and two answers (900 in each) count.
    expect(task.usage).toMatchObject({ model_calls: 3, input_tokens: 2500, output_tokens: 120 });
  });

  it('a 429 storm opens the breaker and the fallback model takes over', async () => {
    await boot('openai:gpt-4.1-mini', () => ({ modelFallbacks: [spec('anthropic:claude-sonnet-4-5')], modelAttempts: 2, modelBreakerFailures: 2 }));
    fake!.whenEmpty('openai', 'openai/rate-limited');
    fake!.queue('anthropic', 'anthropic/plan-one-step', 'anthropic/calculator-call', 'anthropic/compute-final');
    const { task } = await runTask(QUESTION);
    expect(task.status).toBe('completed');
    // Two tries (Retry-After: 0 honoured) open the breaker; later calls skip OpenAI altogether.
    expect(fake!.received('openai')).toHaveLength(2);
    expect(fake!.received('anthropic')).toHaveLength(3);
    const breakers = (s!.app.brain as ModelBrain).breakers;
    expect(await breakers.states(['openai:gpt-4.1-mini', 'anthropic:claude-sonnet-4-5'])).toMatchObject([{ state: 'open' }, { state: 'closed' }]);
    const usage = await s!.app.store.taskUsage(task.id as string);
    expect(usage.calls).toBe(3);
  });

  it('a 429 storm opens the breaker and /health then shows it open, with every model of every chain', async () => {
    await boot('openai:gpt-4.1-mini', () => ({ modelFallbacks: [spec('anthropic:claude-sonnet-4-5')], modelWriter: spec('openai:gpt-4.1-nano'), modelAttempts: 2, modelBreakerFailures: 2 }));
    const before = (await call(s!.url, '/health')).body as Json & { breakers: Json[] };
    expect(before.breakers.map((b) => b.state)).toEqual(['closed', 'closed', 'closed']);
    fake!.whenEmpty('openai', 'openai/rate-limited');
    fake!.queue('anthropic', 'anthropic/plan-one-step', 'anthropic/calculator-call', 'anthropic/compute-final');
    const started = Date.now();
    const { task } = await runTask(QUESTION);
    expect(task.status).toBe('completed');
    const health = (await call(s!.url, '/health')).body as Json & { breakers: Array<Json & { opened_at: string | null }> };
    expect(health).toMatchObject({ status: 'healthy', brain: 'openai:gpt-4.1-mini' });
    expect(health.breakers).toEqual([
      { model: 'openai:gpt-4.1-mini', state: 'open', failures: 2, opened_at: expect.any(String) },
      { model: 'anthropic:claude-sonnet-4-5', state: 'closed', failures: 0, opened_at: null },
      { model: 'openai:gpt-4.1-nano', state: 'closed', failures: 0, opened_at: null },
    ]);
    expect(Date.parse(health.breakers[0]!.opened_at!)).toBeGreaterThanOrEqual(started - 1000);
  });

  it('a 429 storm with no fallback fails the task with MODEL_RATE_LIMITED', async () => {
    await boot('openai:gpt-4.1-mini', () => ({ modelAttempts: 2 }));
    fake!.whenEmpty('openai', 'openai/rate-limited');
    const { task } = await runTask({ ...QUESTION, options: { retry_attempts: 2 } });
    expect(task.status).toBe('failed');
    expect(task.error).toMatchObject({ code: 'MODEL_RATE_LIMITED', details: { status: 429, model: 'openai:gpt-4.1-mini' } });
  });

  it('a 401 is not retried and fails at once with MODEL_REJECTED', async () => {
    await boot('openai:gpt-4.1-mini');
    fake!.whenEmpty('openai', 'openai/unauthorized');
    const { task } = await runTask(QUESTION);
    expect(task.error).toMatchObject({ code: 'MODEL_REJECTED', details: { status: 401 } });
    expect(fake!.received('openai')).toHaveLength(1);
  });

  it('a stream cut in the middle fails the attempt (BRAIN_ERROR) and the next attempt completes', async () => {
    await boot('openai:gpt-4.1-mini');
    fake!.queue('openai', 'openai/plan-one-step', 'openai/stream-cut', 'openai/compute-final');
    const { task, events } = await runTask(QUESTION);
    expect(task.status).toBe('completed');
    expect(task.final_output).toBe('15% of 2400 plus 12 is **372**.');
    const retry = ofType(events, 'step_retrying')[0]!.data as Json;
    expect(retry).toMatchObject({ error: { code: 'BRAIN_ERROR', details: { reason: 'stream_interrupted' } } });
    expect(fake!.received('openai')).toHaveLength(3);
  });
});

describe('budgets with a model brain', () => {
  it('lowers the output limit sent to the provider to what the budget leaves, and stays within it', async () => {
    await boot('openai:gpt-4.1-mini');
    fake!.queue('openai', 'openai/plan-two-steps', 'openai/calculator-call', 'openai/compute-final', 'openai/answer-final');
    const { task } = await runTask({ ...QUESTION, options: { budget_tokens: 12_000 } });
    expect(task.status, JSON.stringify(task.error)).toBe('completed');
    const [plan] = fake!.received('openai');
    const limit = Number(plan!.body.max_tokens ?? plan!.body.max_completion_tokens);
    expect(limit).toBeGreaterThan(0);
    expect(limit).toBeLessThan(2048);
    expect((task.usage.input_tokens as number) + (task.usage.output_tokens as number)).toBeLessThanOrEqual(12_000);
  });

  it('makes no call at all when the budget cannot cover planning, and says so', async () => {
    await boot('openai:gpt-4.1-mini');
    const { task } = await runTask({ ...QUESTION, options: { budget_tokens: 500 } });
    expect(task.status).toBe('failed');
    expect((task.error as { code: string }).code).toBe('BUDGET_EXCEEDED');
    expect(fake!.received('openai')).toHaveLength(0);
    expect(task.usage.model_calls).toBe(0);
  });
});

if (await requireRedis()) {
  const withPostgres = await requirePostgres();
  describe('breakers shared through Redis', () => {
    const connections: Redis[] = [];
    const prefix = uniquePrefix('model-breakers');
    afterEach(async () => {
      for (const c of connections.splice(0)) c.disconnect();
      await dropPrefix(prefix);
    });

    /** A model brain with its own Redis connection, as in its own worker process. */
    function worker(f: FakeModelServer): ModelBrain {
      const config = loadConfig({}, { model: spec('openai:gpt-4.1-mini'), openaiApiKey: 'sk-test', openaiBaseUrl: f.openaiBaseUrl, retryBaseMs: 1, retryCapMs: 5, modelAttempts: 2, modelBreakerFailures: 2 });
      const redis = new Redis(REDIS_URL);
      connections.push(redis);
      const breakers = new RedisCircuitBreakers(redis, prefix, { failureThreshold: 2, cooldownMs: 60_000 });
      return createModelBrain(config, { breakers });
    }

    const request: PlanRequest = { task: { id: 'task-1', input: QUESTION.input, files: [], options: {} }, agents: AGENTS, tools: [], maxSteps: 8 };
    const ctx = () => ({ signal: new AbortController().signal, emitPartial: () => undefined });

    it("failures recorded through one brain open the breaker for another sharing the prefix", async () => {
      fake = await startFakeModelServer();
      fake.whenEmpty('openai', 'openai/rate-limited');
      const [one, two] = [worker(fake), worker(fake)];
      await expect(one.plan(request, ctx())).rejects.toMatchObject({ code: 'MODEL_RATE_LIMITED' });
      expect(fake.received('openai')).toHaveLength(2);
      expect(await two.breakerStates()).toEqual([{ model: 'openai:gpt-4.1-mini', state: 'open', failures: 2, opened_at: expect.any(Number) }]);
      // The second worker never calls the failing provider: its breaker is open.
      await expect(two.plan(request, ctx())).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE', details: { circuit_open: ['openai:gpt-4.1-mini'] } });
      expect(fake.received('openai')).toHaveLength(2);
    });

    it.runIf(withPostgres)('with REDIS_URL set, the service keeps its breakers in Redis and /health shows what other workers recorded', async () => {
      const schema = uniqueSchema('breakers');
      try {
        await boot('openai:gpt-4.1-mini', () => ({ databaseUrl: POSTGRES_URL, databaseSchema: schema, redisUrl: REDIS_URL, redisPrefix: prefix, modelBreakerFailures: 2 }));
        expect((s!.app.brain as ModelBrain).breakers).toBeInstanceOf(RedisCircuitBreakers);
        const other = worker(fake!).breakers;
        await other.failed('openai:gpt-4.1-mini');
        await other.failed('openai:gpt-4.1-mini');
        const health = (await call(s!.url, '/health')).body as Json;
        expect(health).toMatchObject({ shape: 'distributed', breakers: [{ model: 'openai:gpt-4.1-mini', state: 'open', failures: 2 }] });
      } finally {
        await s?.close();
        s = undefined;
        await dropSchema(schema);
      }
    });
  });
}

describe('re-planning and delegation with a model', () => {
  it('asks the model for a revised plan after a step fails for good, and keeps both plans', async () => {
    await boot('openai:gpt-4.1-mini', () => ({ maxReplans: 1 }));
    fake!.queue('openai', 'openai/plan-one-step', 'openai/unknown-tool-call', 'openai/unknown-tool-call', 'openai/replan-writer', 'openai/answer-final');
    const { id, events, task } = await runTask({ ...QUESTION, options: { max_iterations: 2 } });
    expect(task.status).toBe('completed');
    expect(task.final_output).toBe('The answer is 372.');
    expect(ofType(events, 'replanning')[0]!.data).toMatchObject({ version: 2, trigger: 'step_failed', step_id: 'compute', error: { code: 'MAX_ITERATIONS_EXCEEDED' } });
    const plans = ofType(events, 'plan_created').map((e) => e.data as { version: number; steps: Array<{ id: string }> });
    expect(plans.map((p) => [p.version, p.steps.map((st) => st.id)])).toEqual([[1, ['compute']], [2, ['compute-v2']]]);
    expect(task.plan).toMatchObject({ version: 2 });
    // The revision request told the model what happened, as data.
    const replan = fake!.received('openai')[3]!;
    const prompt = JSON.stringify(replan.body.messages);
    expect(prompt).toContain('This is a revision');
    expect(prompt).toContain('<data source=\\"earlier steps\\">');
    expect(prompt).toContain('MAX_ITERATIONS_EXCEEDED');
    expect((replan.body.response_format as Json).type).toBe('json_schema');
    // Every plan call is counted.
    expect(task.usage.model_calls).toBe(5);
    const steps = (await call(s!.url, `/v1/tasks/${id}`)).body.steps as Array<{ id: string; status: string; plan_version: number }>;
    expect(steps.map((st) => [st.id, st.status, st.plan_version])).toEqual([['compute', 'failed', 1], ['compute-v2', 'completed', 2]]);
  });

  it('a manager delegates to an analyst through the delegate tool, then answers from its result', async () => {
    await boot('openai:gpt-4.1-mini');
    fake!.queue('openai', 'openai/plan-manager', 'openai/delegate-call', 'openai/calculator-call', 'openai/compute-final', 'openai/manager-final');
    const { id, events, task } = await runTask(QUESTION);
    expect(task.status).toBe('completed');
    expect(task.final_output).toBe('The analyst found 372. The answer is 372.');
    expect(ofType(events, 'delegated')[0]).toMatchObject({ step_id: 'lead', data: { turn: 0, steps: [{ id: 'lead.calc', agent: 'analyst' }] } });
    const [, managerFirst, childFirst, , managerSecond] = fake!.received('openai');
    const toolNames = (body: Record<string, unknown>) => (body.tools as Array<{ function: { name: string } }>).map((t) => t.function.name);
    expect(toolNames(managerFirst!.body)).toEqual(['delegate']);
    expect(toolNames(childFirst!.body)).toContain('calculator');
    expect(toolNames(childFirst!.body)).not.toContain('delegate');
    // The manager's second turn carries the sub-task's output as the delegate call's result, marked as data.
    expect(lastUserText(managerSecond!.body)).toContain('<data source=\\"result of tool delegate\\">');
    expect(lastUserText(managerSecond!.body)).toContain('lead.calc');
    const steps = (await call(s!.url, `/v1/tasks/${id}`)).body.steps as Array<{ id: string; parent_id: string | null; status: string }>;
    expect(steps.map((st) => [st.id, st.parent_id, st.status])).toEqual([['lead', null, 'completed'], ['lead.calc', 'lead', 'completed']]);
  });
});

describe('the model judge (AGENTIC_MODEL_JUDGE)', () => {
  it('judges a step with success criteria and the task, journaled as goal_checked with the judge\'s usage', async () => {
    await boot('openai:gpt-4.1-mini', () => ({ modelJudge: true }));
    fake!.queue('openai', 'openai/plan-one-step', 'openai/calculator-call', 'openai/compute-final', 'openai/judge-pass', 'openai/judge-pass');
    const { events, task } = await runTask(QUESTION);
    expect(task.status).toBe('completed');
    const checks = ofType(events, 'goal_checked').map((e) => e.data as { pass: boolean; judge?: { pass: boolean; brain: string } });
    expect(checks).toHaveLength(2);
    expect(checks.every((c) => c.pass && c.judge?.pass === true && c.judge.brain === 'openai:gpt-4.1-mini')).toBe(true);
    const judgeCall = fake!.received('openai')[3]!;
    expect((judgeCall.body.response_format as Json).type).toBe('json_schema');
    expect(JSON.stringify(judgeCall.body.messages)).toContain('<data source=\\"output\\">');
    expect(task.usage.model_calls).toBe(5);
  });

  it('sends a turned-down answer back to the model, which revises it', async () => {
    await boot('openai:gpt-4.1-mini', () => ({ modelJudge: true }));
    fake!.queue('openai', 'openai/plan-one-step', 'openai/calculator-call', 'openai/compute-final', 'openai/judge-fail', 'openai/compute-final', 'openai/judge-pass', 'openai/judge-pass');
    const { events, task } = await runTask(QUESTION);
    expect(task.status).toBe('completed');
    const steps = ofType(events, 'goal_checked').filter((e) => e.step_id).map((e) => (e.data as { pass: boolean }).pass);
    expect(steps).toEqual([false, true]);
    // The model saw why its answer was turned down.
    expect(JSON.stringify(fake!.received('openai')[4]!.body.messages)).toContain('it does not state the number');
  });
});
