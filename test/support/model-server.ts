/**
 * A local stand-in for model providers, speaking their real wire protocols: the OpenAI Chat
 * Completions API (`…/openai/v1/chat/completions`, also used for OpenAI-compatible servers and
 * Ollama) and the Anthropic Messages API (`…/anthropic/v1/messages`). It replays recorded responses
 * from test/__fixtures__/models, in the order they were queued per provider: a JSON body, an SSE
 * stream (optionally cut off in the middle, as a dropped connection would), or an error status
 * with headers such as Retry-After. Every request is kept for assertions.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One recorded response. */
export interface RecordedResponse {
  status?: number;
  headers?: Record<string, string>;
  /** A JSON body. */
  body?: unknown;
  /** Server-sent events; `data` is sent as JSON unless it is a string (OpenAI's `[DONE]`). */
  sse?: Array<{ event?: string; data: unknown }>;
  /** Destroy the connection after the events, without ending the stream. */
  cut?: boolean;
  /** Keep the connection open after the events, sending nothing more (a provider that stalls). */
  hang?: boolean;
}

export type ProviderRoute = 'openai' | 'anthropic';

export interface ReceivedRequest {
  route: ProviderRoute;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

const FIXTURES = new URL('../__fixtures__/models/', import.meta.url);

/** Loads a recorded response, e.g. `fixture('openai/plan-one-step')`. */
export function fixture(name: string): RecordedResponse {
  return JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8')) as RecordedResponse;
}

export class FakeModelServer {
  readonly requests: ReceivedRequest[] = [];
  /** Requests whose client went away before the response ended (aborted calls). */
  aborted = 0;
  readonly #queues: Record<ProviderRoute, RecordedResponse[]> = { openai: [], anthropic: [] };
  readonly #fallback: Partial<Record<ProviderRoute, RecordedResponse>> = {};
  #server?: Server;
  url = '';

  /** Base URL of the OpenAI-style API (`OPENAI_BASE_URL`, `AGENTIC_MODEL_BASE_URL`). */
  get openaiBaseUrl(): string {
    return `${this.url}/openai/v1`;
  }

  /** Base URL of the Anthropic-style API (`ANTHROPIC_BASE_URL`). */
  get anthropicBaseUrl(): string {
    return `${this.url}/anthropic/v1`;
  }

  /** Queues recorded responses (fixture names or objects) for a provider, answered in order. */
  queue(route: ProviderRoute, ...responses: Array<string | RecordedResponse>): this {
    this.#queues[route].push(...responses.map((r) => (typeof r === 'string' ? fixture(r) : r)));
    return this;
  }

  /** The response given when a provider's queue is empty (default: a 500 naming the problem). */
  whenEmpty(route: ProviderRoute, response: string | RecordedResponse): this {
    this.#fallback[route] = typeof response === 'string' ? fixture(response) : response;
    return this;
  }

  /** Responses still queued. */
  pending(route: ProviderRoute): number {
    return this.#queues[route].length;
  }

  /** Requests received by one provider. */
  received(route: ProviderRoute): ReceivedRequest[] {
    return this.requests.filter((r) => r.route === route);
  }

  async start(): Promise<this> {
    this.#server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const path = req.url ?? '';
    const route: ProviderRoute | null = path.startsWith('/openai/') ? 'openai' : path.startsWith('/anthropic/') ? 'anthropic' : null;
    if (!route) return void res.writeHead(404).end();
    const text = Buffer.concat(chunks).toString('utf8');
    this.requests.push({ route, path, headers: req.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
    const response = this.#queues[route].shift() ?? this.#fallback[route] ?? { status: 500, body: { error: { message: `no recorded response left for ${route}` } } };
    res.on('close', () => {
      if (!res.writableFinished) this.aborted++;
    });
    await send(res, response);
  }
}

async function send(res: ServerResponse, r: RecordedResponse): Promise<void> {
  const status = r.status ?? 200;
  if (!r.sse) {
    res.writeHead(status, { 'content-type': 'application/json', ...r.headers }).end(JSON.stringify(r.body ?? {}));
    return;
  }
  res.writeHead(status, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...r.headers });
  for (const e of r.sse) {
    const data = typeof e.data === 'string' ? e.data : JSON.stringify(e.data);
    res.write(`${e.event ? `event: ${e.event}\n` : ''}data: ${data}\n\n`);
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (r.cut) res.socket?.destroy();
  else if (!r.hang) res.end();
}

/** Starts a fake provider server. */
export async function startFakeModelServer(): Promise<FakeModelServer> {
  return new FakeModelServer().start();
}
