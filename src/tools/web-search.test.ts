import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AppError } from '../errors.js';
import { ToolRegistry } from './registry.js';
import { appErrorOf, toolContext } from '../../test/support/tool-context.js';
import {
  createConfiguredWebSearchTool,
  createWebSearchTool,
  resolveWebSearchConfig,
} from './web-search.js';
import type { WebSearchConfig, WebSearchOutput } from './web-search.js';

// ---------------------------------------------------------------------------------------------
// Provider answers, shaped like the real APIs' (trimmed, with the extra fields they send)

const SEARXNG_ANSWER = {
  query: 'rust async runtime',
  number_of_results: 0,
  results: [
    {
      url: 'https://tokio.rs/',
      title: 'Tokio - An asynchronous Rust runtime',
      content: 'Tokio is an asynchronous runtime for the Rust programming language.\n It provides the building blocks.',
      engine: 'duckduckgo',
      parsed_url: ['https', 'tokio.rs', '/', '', '', ''],
      template: 'default.html',
      engines: ['duckduckgo', 'brave', 'google'],
      positions: [1, 1, 2],
      score: 9.5,
      category: 'general',
      publishedDate: null,
      thumbnail: '',
    },
    {
      url: 'https://docs.rs/async-std',
      title: 'async_std - Rust',
      content: 'Async version of the Rust standard library.',
      engine: 'google',
      parsed_url: ['https', 'docs.rs', '/async-std', '', '', ''],
      template: 'default.html',
      engines: ['google'],
      positions: [3],
      score: 1.3,
      category: 'general',
    },
    { url: 'https://tokio.rs/', title: 'Tokio (duplicate)', content: 'dup', engine: 'bing', engines: ['bing'] },
    { title: 'An infobox-like entry without a URL', content: 'no url', engine: 'wikidata' },
    { url: 'magnet:?xt=urn:btih:abc', title: 'torrent', content: '', engine: 'piratebay' },
    { url: 'https://smol.example/', title: '', content: '', engine: 'bing', engines: ['bing'] },
  ],
  answers: [],
  corrections: [],
  infoboxes: [],
  suggestions: ['rust async runtime comparison'],
  unresponsive_engines: [['wikidata', 'timeout']],
};

const BRAVE_ANSWER = {
  query: {
    original: 'rust async runtime',
    show_strict_warning: false,
    is_navigational: false,
    is_news_breaking: false,
    spellcheck_off: true,
    country: 'us',
    bad_results: false,
    should_fallback: false,
    postal_code: '',
    city: '',
    header_country: '',
    more_results_available: true,
    state: '',
  },
  mixed: { type: 'mixed', main: [{ type: 'web', index: 0, all: false }], top: [], side: [] },
  type: 'search',
  web: {
    type: 'search',
    results: [
      {
        title: 'Tokio - An <strong>asynchronous</strong> <strong>Rust</strong> runtime',
        url: 'https://tokio.rs/',
        is_source_local: false,
        is_source_both: false,
        description: 'Tokio is an <strong>asynchronous</strong> <strong>runtime</strong> for the <strong>Rust</strong> programming language &amp; more.',
        page_age: '2024-05-01T00:00:00',
        profile: { name: 'Tokio', url: 'https://tokio.rs/', long_name: 'tokio.rs', img: 'https://imgs.search.brave.com/x' },
        language: 'en',
        family_friendly: true,
        type: 'search_result',
        subtype: 'generic',
        meta_url: { scheme: 'https', netloc: 'tokio.rs', hostname: 'tokio.rs', favicon: 'https://imgs.search.brave.com/y', path: '' },
        extra_snippets: ['A runtime for writing reliable network applications.'],
      },
      {
        title: 'Are we async yet?',
        url: 'https://areweasyncyet.rs/',
        is_source_local: false,
        is_source_both: false,
        description: '',
        profile: { name: 'Areweasyncyet', url: 'https://areweasyncyet.rs/', long_name: 'areweasyncyet.rs' },
        language: 'en',
        family_friendly: true,
        type: 'search_result',
        subtype: 'generic',
        meta_url: { scheme: 'https', netloc: 'areweasyncyet.rs', hostname: 'areweasyncyet.rs', path: '' },
        extra_snippets: ['Async I/O in Rust, with <strong>async</strong>/await.'],
      },
    ],
    family_friendly: true,
  },
};

const BRAVE_NO_WEB_RESULTS = {
  query: { original: 'zzqxj', more_results_available: false },
  mixed: { type: 'mixed', main: [], top: [], side: [] },
  type: 'search',
};

const BRAVE_RATE_LIMITED = {
  type: 'ErrorResponse',
  error: {
    id: '3f9a8c2e-5b7d-4e1a-9c6f-2d8e4b1a7c3e',
    status: 429,
    code: 'RATE_LIMITED',
    detail: 'Request rate limit exceeded for plan.',
    meta: { plan: 'Free', rate_limit: 1, rate_current: 1, quota_limit: 2000, quota_current: 57, component: 'rate_limiter' },
  },
  time: 1718000000,
};

const BRAVE_BAD_TOKEN = {
  type: 'ErrorResponse',
  error: {
    id: '5d832250-9396-4f6e-b84a-2a1fe524cd7d',
    status: 422,
    code: 'SUBSCRIPTION_TOKEN_INVALID',
    detail: 'The provided subscription token is invalid.',
    meta: { component: 'authentication' },
  },
  time: 1663072993,
};

const TAVILY_ANSWER = {
  query: 'rust async runtime',
  follow_up_questions: null,
  answer: null,
  images: [],
  results: [
    {
      url: 'https://tokio.rs/tokio/tutorial',
      title: 'Tutorial | Tokio - An asynchronous Rust runtime',
      content: 'Tokio is an asynchronous runtime for the Rust programming language. It provides the building blocks needed for writing network applications.',
      score: 0.98,
      raw_content: null,
    },
    {
      url: 'https://rust-lang.github.io/async-book/',
      title: 'Asynchronous Programming in Rust',
      content: 'x'.repeat(3000),
      score: 0.71,
      raw_content: null,
    },
  ],
  response_time: 1.21,
};

// ---------------------------------------------------------------------------------------------
// One local server playing all three providers

interface Received {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
  body: unknown;
}

type Handler = (req: Received, res: ServerResponse) => void;

const received: Received[] = [];
let override: Handler | undefined;
let server: Server;
let base = '';
const BRAVE_KEY = 'BSA-test-key-123';
const TAVILY_KEY = 'tvly-test-key-456';

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function provider(req: Received, res: ServerResponse): void {
  switch (`${req.method} ${req.path}`) {
    case 'GET /searxng/search':
      if (req.query.format !== 'json') {
        res.writeHead(403, { 'content-type': 'text/html' });
        return void res.end('<html><body><h1>Forbidden</h1></body></html>');
      }
      return json(res, 200, SEARXNG_ANSWER);
    case 'GET /brave/res/v1/web/search':
      if (req.headers['x-subscription-token'] !== BRAVE_KEY) return json(res, 422, BRAVE_BAD_TOKEN);
      return json(res, 200, req.query.q === 'zzqxj' ? BRAVE_NO_WEB_RESULTS : BRAVE_ANSWER);
    case 'POST /tavily/search':
      if (req.headers.authorization !== `Bearer ${TAVILY_KEY}`) {
        return json(res, 401, { detail: { error: 'Unauthorized: missing or invalid API key.' } });
      }
      return json(res, 200, TAVILY_ANSWER);
    default:
      return json(res, 404, { detail: 'Not Found' });
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://local');
      const text = Buffer.concat(chunks).toString('utf8');
      const entry: Received = {
        method: req.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body: text ? JSON.parse(text) : undefined,
      };
      received.push(entry);
      (override ?? provider)(entry, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  received.length = 0;
  override = undefined;
});

// ---------------------------------------------------------------------------------------------
// Helpers

function configs(): Record<'searxng' | 'brave' | 'tavily', WebSearchConfig> {
  return {
    searxng: { provider: 'searxng', baseUrl: `${base}/searxng/` },
    brave: { provider: 'brave', baseUrl: `${base}/brave`, apiKey: BRAVE_KEY },
    tavily: { provider: 'tavily', baseUrl: `${base}/tavily`, apiKey: TAVILY_KEY },
  };
}

function searcher(config: WebSearchConfig) {
  const registry = new ToolRegistry().register(createWebSearchTool(config));
  return {
    search: async (args: unknown, signal?: AbortSignal) =>
      (await registry.invoke('web_search', args, toolContext({ signal }))) as WebSearchOutput,
    failure: (args: unknown, signal?: AbortSignal): Promise<AppError> => appErrorOf(registry.invoke('web_search', args, toolContext({ signal }))),
  };
}

// ---------------------------------------------------------------------------------------------

describe('web_search with SearXNG', () => {
  it('asks for JSON and returns deduplicated http(s) results with their snippets', async () => {
    const out = await searcher(configs().searxng).search({ query: 'rust async runtime', limit: 10 });
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ method: 'GET', path: '/searxng/search', query: { q: 'rust async runtime', format: 'json' } });
    expect(out).toEqual({
      provider: 'searxng',
      results: [
        {
          title: 'Tokio - An asynchronous Rust runtime',
          url: 'https://tokio.rs/',
          snippet: 'Tokio is an asynchronous runtime for the Rust programming language. It provides the building blocks.',
        },
        { title: 'async_std - Rust', url: 'https://docs.rs/async-std', snippet: 'Async version of the Rust standard library.' },
        { title: 'https://smol.example/', url: 'https://smol.example/', snippet: '' },
      ],
    });
  });

  it('returns the default of 5 results at most, or fewer when asked', async () => {
    const { search } = searcher(configs().searxng);
    expect((await search({ query: 'rust' })).results.length).toBeLessThanOrEqual(5);
    expect((await search({ query: 'rust', limit: 1 })).results).toHaveLength(1);
  });

  it('explains a 403 from an instance without the JSON format, not retryable', async () => {
    override = (_req, res) => {
      res.writeHead(403, { 'content-type': 'text/html' });
      res.end('<h1>Forbidden</h1>');
    };
    const err = await searcher(configs().searxng).failure({ query: 'x' });
    expect(err.code).toBe('SEARCH_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.details).toMatchObject({ provider: 'searxng', status: 403 });
    expect(err.message).toContain('search.formats');
  });

  it('treats a 5xx as retryable', async () => {
    override = (_req, res) => json(res, 502, { error: 'bad gateway' });
    const err = await searcher(configs().searxng).failure({ query: 'x' });
    expect(err).toMatchObject({ code: 'SEARCH_FAILED', retryable: true, details: { status: 502 } });
  });

  it('refuses a 200 answer that is not JSON', async () => {
    override = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>search page</html>');
    };
    const err = await searcher(configs().searxng).failure({ query: 'x' });
    expect(err).toMatchObject({ code: 'SEARCH_FAILED', retryable: false, details: { reason: 'bad_response' } });
  });

  it('does not follow a redirect, and says where it pointed', async () => {
    override = (_req, res) => {
      res.writeHead(301, { location: 'https://search.example/search' });
      res.end();
    };
    const err = await searcher(configs().searxng).failure({ query: 'x' });
    expect(err).toMatchObject({ code: 'SEARCH_FAILED', retryable: false, details: { status: 301 } });
    expect(err.message).toContain('https://search.example/search');
  });
});

describe('web_search with Brave', () => {
  it('sends the subscription token and count, and strips the <strong> marks', async () => {
    const out = await searcher(configs().brave).search({ query: 'rust async runtime', limit: 7 });
    expect(received[0]).toMatchObject({
      method: 'GET',
      path: '/brave/res/v1/web/search',
      query: { q: 'rust async runtime', count: '7' },
    });
    expect(received[0]?.headers['x-subscription-token']).toBe(BRAVE_KEY);
    expect(received[0]?.headers.accept).toBe('application/json');
    expect(out).toEqual({
      provider: 'brave',
      results: [
        {
          title: 'Tokio - An asynchronous Rust runtime',
          url: 'https://tokio.rs/',
          snippet: 'Tokio is an asynchronous runtime for the Rust programming language & more.',
        },
        // No description: the first extra snippet stands in.
        { title: 'Are we async yet?', url: 'https://areweasyncyet.rs/', snippet: 'Async I/O in Rust, with async/await.' },
      ],
    });
  });

  it('returns no results when Brave has no web section', async () => {
    const out = await searcher(configs().brave).search({ query: 'zzqxj' });
    expect(out).toEqual({ provider: 'brave', results: [] });
  });

  it('makes a 429 retryable and keeps Brave’s explanation and Retry-After', async () => {
    override = (_req, res) => json(res, 429, BRAVE_RATE_LIMITED, { 'retry-after': '1' });
    const err = await searcher(configs().brave).failure({ query: 'x' });
    expect(err.code).toBe('SEARCH_FAILED');
    expect(err.retryable).toBe(true);
    expect(err.details).toMatchObject({ provider: 'brave', status: 429, retry_after: '1' });
    expect(err.message).toContain('RATE_LIMITED: Request rate limit exceeded for plan.');
  });

  it('fails a rejected key without retrying and without echoing the key', async () => {
    const err = await searcher({ ...configs().brave, apiKey: 'BSA-wrong-key' }).failure({ query: 'x' });
    expect(err).toMatchObject({ code: 'SEARCH_FAILED', retryable: false, details: { status: 422 } });
    expect(err.message).toContain('SUBSCRIPTION_TOKEN_INVALID');
    expect(err.message).toContain('check the API key');
    expect(JSON.stringify({ message: err.message, details: err.details })).not.toContain('BSA-wrong-key');
  });

  it('refuses an answer of the wrong shape', async () => {
    override = (_req, res) => json(res, 200, { web: 'nope' });
    const err = await searcher(configs().brave).failure({ query: 'x' });
    expect(err).toMatchObject({ code: 'SEARCH_FAILED', retryable: false, details: { reason: 'bad_response' } });
  });
});

describe('web_search with Tavily', () => {
  it('posts the query with a bearer key and returns the results, snippets cut to size', async () => {
    const out = await searcher(configs().tavily).search({ query: 'rust async runtime', limit: 3 });
    expect(received[0]).toMatchObject({
      method: 'POST',
      path: '/tavily/search',
      body: { query: 'rust async runtime', max_results: 3, search_depth: 'basic', include_answer: false, include_raw_content: false },
    });
    expect(received[0]?.headers.authorization).toBe(`Bearer ${TAVILY_KEY}`);
    expect(received[0]?.headers['content-type']).toBe('application/json');
    expect(out.provider).toBe('tavily');
    expect(out.results.map((r) => r.url)).toEqual(['https://tokio.rs/tokio/tutorial', 'https://rust-lang.github.io/async-book/']);
    expect(out.results[0]?.title).toBe('Tutorial | Tokio - An asynchronous Rust runtime');
    expect(out.results[1]?.snippet).toHaveLength(1000);
    expect(out.results[1]?.snippet.endsWith('…')).toBe(true);
  });

  it('fails a bad key with Tavily’s message, not retryable', async () => {
    const err = await searcher({ ...configs().tavily, apiKey: 'tvly-wrong' }).failure({ query: 'x' });
    expect(err).toMatchObject({ code: 'SEARCH_FAILED', retryable: false, details: { status: 401 } });
    expect(err.message).toContain('Unauthorized: missing or invalid API key.');
  });

  it('treats an exhausted plan (432) as permanent and 429 as retryable', async () => {
    override = (_req, res) =>
      json(res, 432, { detail: { error: "This request exceeds your plan's set usage limit. Please upgrade your plan or contact support@tavily.com" } });
    expect(await searcher(configs().tavily).failure({ query: 'x' })).toMatchObject({ retryable: false, details: { status: 432 } });
    override = (_req, res) => json(res, 429, { detail: { error: 'Your request has been blocked due to excessive requests.' } });
    expect(await searcher(configs().tavily).failure({ query: 'x' })).toMatchObject({ retryable: true, details: { status: 429 } });
  });
});

describe('web_search limits and failures', () => {
  it('gives up on a provider that does not answer in time, retryably', async () => {
    override = () => undefined; // never answers
    const started = Date.now();
    const err = await searcher({ ...configs().searxng, timeoutMs: 300 }).failure({ query: 'x' });
    expect(err).toMatchObject({ code: 'SEARCH_FAILED', retryable: true, details: { reason: 'timeout', timeout_ms: 300 } });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('reports an unreachable provider as a retryable network failure', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const err = await searcher({ provider: 'searxng', baseUrl: `http://127.0.0.1:${port}` }).failure({ query: 'x' });
    expect(err).toMatchObject({ code: 'SEARCH_FAILED', retryable: true, details: { reason: 'network' } });
  });

  it('stops when the caller aborts, with the caller’s reason', async () => {
    override = () => undefined;
    const controller = new AbortController();
    const reason = new Error('task cancelled');
    setTimeout(() => controller.abort(reason), 100);
    const err = await searcher(configs().brave)
      .search({ query: 'x' }, controller.signal)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBe(reason);
  });

  it('validates the query and the limit against maxResults', async () => {
    const { failure } = searcher({ ...configs().brave, maxResults: 8 });
    expect((await failure({ query: '' })).code).toBe('TOOL_INPUT_INVALID');
    expect((await failure({ query: '   ' })).code).toBe('TOOL_INPUT_INVALID');
    expect((await failure({ query: 'q'.repeat(401) })).code).toBe('TOOL_INPUT_INVALID');
    expect((await failure({ query: 'x', limit: 9 })).code).toBe('TOOL_INPUT_INVALID');
    expect((await failure({ query: 'x', limit: 0 })).code).toBe('TOOL_INPUT_INVALID');
    expect(received).toEqual([]);
  });

  it('describes itself as a read-only tool', () => {
    const tool = createWebSearchTool(configs().tavily);
    expect(tool.name).toBe('web_search');
    expect(tool.effect).toBe('read_only');
  });
});

describe('web_search configuration', () => {
  it('offers no tool when no provider is configured', () => {
    expect(resolveWebSearchConfig({})).toBeNull();
    expect(resolveWebSearchConfig({ searxngUrl: '  ', braveApiKey: '' })).toBeNull();
    expect(createConfiguredWebSearchTool({})).toBeNull();
  });

  it('picks the first configured provider: SearXNG, then Brave, then Tavily', () => {
    expect(resolveWebSearchConfig({ searxngUrl: 'http://searxng:8080', braveApiKey: 'k' })).toEqual({
      provider: 'searxng',
      baseUrl: 'http://searxng:8080',
    });
    expect(resolveWebSearchConfig({ braveApiKey: 'k', tavilyApiKey: 't' })).toEqual({ provider: 'brave', apiKey: 'k' });
    expect(resolveWebSearchConfig({ tavilyApiKey: 't', maxResults: 20, timeoutMs: 5000 })).toEqual({
      provider: 'tavily',
      apiKey: 't',
      maxResults: 20,
      timeoutMs: 5000,
    });
  });

  it('honours an explicit provider and its base URL override', () => {
    expect(resolveWebSearchConfig({ provider: 'tavily', searxngUrl: 'http://s', tavilyApiKey: 't', tavilyBaseUrl: 'http://proxy:9000' })).toEqual({
      provider: 'tavily',
      apiKey: 't',
      baseUrl: 'http://proxy:9000',
    });
    expect(createConfiguredWebSearchTool({ provider: 'brave', braveApiKey: 'k' })?.name).toBe('web_search');
  });

  it('refuses incomplete or malformed configuration with CONFIG_INVALID', () => {
    const invalid = expect.objectContaining({ code: 'CONFIG_INVALID' });
    expect(() => resolveWebSearchConfig({ provider: 'brave', tavilyApiKey: 't' })).toThrow(invalid);
    expect(() => resolveWebSearchConfig({ provider: 'searxng' })).toThrow(invalid);
    expect(() => resolveWebSearchConfig({ searxngUrl: 'searxng:8080/search?x' })).toThrow(invalid);
    expect(() => resolveWebSearchConfig({ searxngUrl: 'ftp://searxng' })).toThrow(invalid);
    expect(() => createWebSearchTool({ provider: 'tavily' })).toThrow(invalid);
    expect(() => createWebSearchTool({ provider: 'searxng' })).toThrow(invalid);
    expect(() => createWebSearchTool({ provider: 'bing' as never, apiKey: 'k' })).toThrow(invalid);
  });
});
