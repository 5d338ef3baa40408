/**
 * Hostile and malformed requests. Every one must get the exact error shape
 * `{error: {code, message, details}}` with the right status (never a 500), and none may change stored
 * data: after the barrage, the task, document and file created first are exactly as they were.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, expectError, ndjsonLines, upload, type Answer, type Body, type CallOptions, type Json } from './support/http.js';
import { startTestServer, type TestServer } from './support/server.js';

let server: TestServer;
let base: string;

/** Everything hostile goes to this tenant, so anything it wrongly created would show in its lists. */
const TENANT = { 'x-act-as-tenant': 'hostile' };
const JSON_TYPE = { 'content-type': 'application/json', ...TENANT };

let taskId: string;
let docId: string;
let fileId: string;
let before: { task: Json; events: string; tasks: Json; documents: Json; document: Json; files: Json; content: string };

/** Everything stored for the tenant, as the API shows it. */
async function snapshot(): Promise<typeof before> {
  const headers = TENANT;
  return {
    task: (await call(base, `/v1/tasks/${taskId}`, { headers })).body,
    events: (await call(base, `/v1/tasks/${taskId}/events?format=ndjson`, { headers })).text,
    tasks: (await call(base, '/v1/tasks?limit=100', { headers })).body,
    documents: (await call(base, '/v1/documents?limit=100', { headers })).body,
    document: (await call(base, `/v1/documents/${docId}`, { headers })).body,
    files: (await call(base, '/v1/files?limit=100', { headers })).body,
    content: (await call(base, `/v1/files/${fileId}/content`, { headers })).text,
  };
}

beforeAll(async () => {
  server = await startTestServer();
  base = server.url;
  const doc = await call(base, '/v1/documents', {
    json: { title: 'Lighthouse log', content: 'The lighthouse lamp turns every ten seconds. Keepers log the weather at dawn.', metadata: { shelf: 3 } },
    headers: TENANT,
  });
  expect(doc.status).toBe(201);
  docId = doc.body.id as string;
  const file = await upload(base, 'lamps.csv', 'lamp,hours\nnorth,10\nsouth,12\n', 'text/csv', TENANT);
  expect(file.status).toBe(201);
  fileId = file.body.id as string;
  const task = await call(base, '/v1/tasks', { json: { input: 'What do our documents say about the lighthouse?' }, headers: TENANT });
  expect(task.status).toBe(202);
  taskId = task.body.id as string;
  const events = ndjsonLines((await call(base, `/v1/tasks/${taskId}/events?format=ndjson`, { headers: TENANT })).text);
  expect(events.at(-1)!.type).toBe('task_completed');
  before = await snapshot();
});

afterAll(async () => {
  await server?.close();
});

type Case = [name: string, path: string, options: CallOptions, status: number, code: string];

/** Cases as objects, for titles that name the case and its expected answer (never the body). */
const named = (cases: Case[]) => cases.map(([name, path, options, status, code]) => ({ name, path, options, status, code }));

const post = (body: Body, headers: Record<string, string> = JSON_TYPE): CallOptions => ({ method: 'POST', body, headers });
const postJson = (value: unknown): CallOptions => post(JSON.stringify(value));

/** Runs one case and checks the status, code and shape. */
async function expectCase(c: Case | ReturnType<typeof named>[number]): Promise<{ code: string; message: string; details: Json }> {
  const [, path, options, status, code] = Array.isArray(c) ? c : [c.name, c.path, c.options, c.status, c.code];
  return expectError(await call(base, path, { headers: TENANT, ...options }), status, code);
}

describe('malformed bodies', () => {
  const cases: Case[] = [
    ['unterminated object', '/v1/tasks', post('{"input": "x"'), 400, 'INVALID_JSON'],
    ['unquoted keys', '/v1/tasks', post('{input: "x"}'), 400, 'INVALID_JSON'],
    ['single quotes', '/v1/tasks', post("{'input': 'x'}"), 400, 'INVALID_JSON'],
    ['trailing garbage', '/v1/tasks', post('{"input": "x"}}'), 400, 'INVALID_JSON'],
    ['trailing comma', '/v1/tasks', post('{"input": "x",}'), 400, 'INVALID_JSON'],
    ['raw NUL inside a string', '/v1/tasks', post('{"input": "a\u0000b"}'), 400, 'INVALID_JSON'],
    ['bare word', '/tasks', post('undefined'), 400, 'INVALID_JSON'],
    ['malformed, seed run-task', '/run-task', post('{"user_input": '), 400, 'INVALID_JSON'],
    ['malformed, documents', '/v1/documents', post('{"title": "x", "content": }'), 400, 'INVALID_JSON'],
    ['malformed on a route without a body', `/v1/tasks/${'x'}/cancel`, post('{'), 400, 'INVALID_JSON'],
    ['empty body with content-type json', '/v1/tasks', post(''), 400, 'INVALID_JSON'],
    ['whitespace body with content-type json', '/tasks', post(' \n\t '), 400, 'INVALID_JSON'],
    ['empty body, documents', '/v1/documents', post(''), 400, 'INVALID_JSON'],
    ['null', '/v1/tasks', post('null'), 400, 'VALIDATION_ERROR'],
    ['array', '/v1/tasks', post('[]'), 400, 'VALIDATION_ERROR'],
    ['string', '/v1/tasks', post('"What is 1 + 1?"'), 400, 'VALIDATION_ERROR'],
    ['number', '/tasks', post('42'), 400, 'VALIDATION_ERROR'],
    ['boolean', '/run-task', post('true'), 400, 'VALIDATION_ERROR'],
    ['invalid UTF-8 (0xff 0xfe)', '/v1/tasks', post(Buffer.from([0x7b, 0x22, 0x69, 0x6e, 0x70, 0x75, 0x74, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])), 400, 'INVALID_ENCODING'],
    ['overlong UTF-8 "/"', '/tasks', post(Buffer.concat([Buffer.from('{"task_description":"a'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')])), 400, 'INVALID_ENCODING'],
    ['UTF-8-encoded surrogate', '/v1/documents', post(Buffer.concat([Buffer.from('{"title":"a'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('","content":"b"}')])), 400, 'INVALID_ENCODING'],
    ['latin-1 bytes', '/run-task', post(Buffer.from('{"user_input":"caf\xe9"}', 'latin1')), 400, 'INVALID_ENCODING'],
    ['100000 levels of [', '/v1/tasks', post('['.repeat(100_000)), 400, 'VALIDATION_ERROR'],
    ['100000 levels of {"a":', '/v1/tasks', post('{"a":'.repeat(100_000)), 400, 'VALIDATION_ERROR'],
    ['deep nesting inside options', '/v1/tasks', post(`{"input":"x","options":${'['.repeat(100)}${']'.repeat(100)}}`), 400, 'VALIDATION_ERROR'],
    ['deep nesting in document metadata', '/v1/documents', post(`{"title":"x","content":"y","metadata":{"a":${'{"b":'.repeat(70)}1${'}'.repeat(70)}}}`), 400, 'VALIDATION_ERROR'],
  ];

  it.each(named(cases))('$name → $status $code', async (c) => {
    await expectCase(c);
  });

  it('names the depth limit in the details', async () => {
    const err = await expectCase(['deep', '/v1/tasks', post('['.repeat(100_000)), 400, 'VALIDATION_ERROR']);
    expect(err.details).toEqual({ max_depth: 64 });
  });

  it('accepts nesting up to the limit', async () => {
    const body = `{"title":"Nested","content":"deep","metadata":${'{"a":'.repeat(63)}1${'}'.repeat(63)}}`;
    const res = await call(base, '/v1/documents', { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-act-as-tenant': 'hostile-ok' } });
    expect(res.status).toBe(201);
  });
});

describe('too large', () => {
  const tenMb = JSON.stringify({ input: 'x'.repeat(10 * 1024 * 1024) });
  const cases: Case[] = [
    ['10 MB task', '/v1/tasks', post(tenMb), 413, 'PAYLOAD_TOO_LARGE'],
    ['10 MB seed task', '/tasks', post(JSON.stringify({ task_description: 'x'.repeat(10 * 1024 * 1024) })), 413, 'PAYLOAD_TOO_LARGE'],
    ['10 MB run-task', '/run-task', post(JSON.stringify({ user_input: 'x'.repeat(10 * 1024 * 1024) })), 413, 'PAYLOAD_TOO_LARGE'],
    ['10 MB of junk to cancel', `/v1/tasks/${'x'}/cancel`, post('['.repeat(10 * 1024 * 1024)), 413, 'PAYLOAD_TOO_LARGE'],
  ];

  it.each(named(cases))('$name → $status $code', async (c) => {
    await expectCase(c);
  });

  it('refuses input over 20000 characters that fits the body limit', async () => {
    const err = await expectCase(['long input', '/v1/tasks', postJson({ input: 'y'.repeat(20_001) }), 400, 'VALIDATION_ERROR']);
    expect(err.details.issues).toEqual([{ path: 'body.input', message: expect.stringContaining('20000') }]);
  });
});

describe('wrong media types', () => {
  const cases: Case[] = [
    ['text/plain', '/v1/tasks', post('{"input":"x"}', { 'content-type': 'text/plain', ...TENANT }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['text/plain, seed', '/tasks', post('hello', { 'content-type': 'text/plain; charset=utf-8', ...TENANT }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['form-urlencoded', '/v1/tasks', post('input=x', { 'content-type': 'application/x-www-form-urlencoded', ...TENANT }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['xml', '/v1/documents', post('<doc/>', { 'content-type': 'application/xml', ...TENANT }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['json-ish lookalike', '/v1/tasks', post('{"input":"x"}', { 'content-type': 'application/jsonx', ...TENANT }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    // Multipart has a parser (for /v1/files), so elsewhere it reaches validation as no body at all.
    ['multipart to a JSON route', '/v1/tasks', post('--b\r\n\r\n--b--', { 'content-type': 'multipart/form-data; boundary=b', ...TENANT }), 400, 'VALIDATION_ERROR'],
  ];

  it.each(named(cases))('$name → $status $code', async (c) => {
    await expectCase(c);
  });

  it('takes JSON with a charset parameter and +json media types', async () => {
    for (const type of ['application/json; charset=utf-8', 'application/json;charset=UTF-8', 'application/vnd.api+json']) {
      const res = await call(base, '/v1/tasks', { method: 'POST', body: JSON.stringify({ input: 'What is 2 + 3?' }), headers: { 'content-type': type, 'x-act-as-tenant': 'hostile-ok' } });
      expect({ type, status: res.status }).toEqual({ type, status: 202 });
    }
  });
});

describe('wrong types and unknown fields', () => {
  const cases: Array<[string, string, unknown]> = [
    ['input as a number', '/v1/tasks', { input: 5 }],
    ['input as null', '/v1/tasks', { input: null }],
    ['input as an array', '/v1/tasks', { input: ['x'] }],
    ['files as a string', '/v1/tasks', { input: 'x', files: 'abc' }],
    ['files of numbers', '/v1/tasks', { input: 'x', files: [1] }],
    ['51 files', '/v1/tasks', { input: 'x', files: Array.from({ length: 51 }, (_, i) => `f${i}`) }],
    ['options as a string', '/v1/tasks', { input: 'x', options: 'fast' }],
    ['max_steps as a string', '/v1/tasks', { input: 'x', options: { max_steps: '3' } }],
    ['max_steps 0', '/v1/tasks', { input: 'x', options: { max_steps: 0 } }],
    ['max_steps 1.5', '/v1/tasks', { input: 'x', options: { max_steps: 1.5 } }],
    ['timeout_ms too large', '/v1/tasks', { input: 'x', options: { timeout_ms: 1e12 } }],
    ['retry_attempts negative', '/v1/tasks', { input: 'x', options: { retry_attempts: -1 } }],
    ['unknown top-level field', '/v1/tasks', { input: 'x', priority: 'high' }],
    ['unknown option', '/v1/tasks', { input: 'x', options: { speed: 'max' } }],
    ['document title as a number', '/v1/documents', { title: 1, content: 'x' }],
    ['document with an unknown field', '/v1/documents', { title: 'x', content: 'y', author: 'z' }],
    ['seed description as an object', '/tasks', { task_description: { text: 'x' } }],
    ['run-task input as an array', '/run-task', { user_input: ['x'] }],
  ];

  it.each(cases)('%s → 400 VALIDATION_ERROR with issues', async (_name, path, body) => {
    const err = await expectCase(['', path, postJson(body), 400, 'VALIDATION_ERROR']);
    const issues = err.details.issues as Array<{ path: string; message: string }>;
    expect(issues.length).toBeGreaterThan(0);
    for (const issue of issues) {
      expect(Object.keys(issue).sort()).toEqual(['message', 'path']);
      expect(issue.path.startsWith('body')).toBe(true);
    }
  });

  it('points the issues at the offending fields', async () => {
    const err = await expectCase(['', '/v1/tasks', postJson({ input: 'x', options: { max_steps: 'a', foo: 1 } }), 400, 'VALIDATION_ERROR']);
    expect((err.details.issues as Array<{ path: string }>).map((i) => i.path).sort()).toEqual(['body.options', 'body.options.max_steps']);
  });
});

describe('prototype poisoning', () => {
  const cases: Case[] = [
    ['__proto__ at the top', '/v1/tasks', post('{"input":"x","__proto__":{"polluted":true}}'), 400, 'VALIDATION_ERROR'],
    ['__proto__ in options', '/v1/tasks', post('{"input":"x","options":{"__proto__":{"max_steps":1}}}'), 400, 'VALIDATION_ERROR'],
    ['__proto__ in metadata', '/v1/documents', post('{"title":"x","content":"y","metadata":{"__proto__":{"polluted":true}}}'), 400, 'VALIDATION_ERROR'],
    ['__proto__ deep in metadata', '/v1/documents', post('{"title":"x","content":"y","metadata":{"a":[{"__proto__":{"polluted":true}}]}}'), 400, 'VALIDATION_ERROR'],
    ['constructor.prototype', '/v1/documents', post('{"title":"x","content":"y","metadata":{"constructor":{"prototype":{"polluted":true}}}}'), 400, 'VALIDATION_ERROR'],
    ['__proto__ in a seed body', '/tasks', post('{"task_description":"x","__proto__":{"polluted":true}}'), 400, 'VALIDATION_ERROR'],
  ];

  it.each(named(cases))('$name → $status $code', async (c) => {
    const err = await expectCase(c);
    expect(['__proto__', 'constructor']).toContain(err.details.key);
    expect(({} as Json).polluted).toBeUndefined();
  });

  it('keeps such words as text inside strings and as plain keys', async () => {
    const res = await call(base, '/v1/documents', {
      json: { title: '__proto__ and constructor', content: 'The constructor sets __proto__.', metadata: { constructor: 'Ada' } },
      headers: { 'x-act-as-tenant': 'hostile-ok' },
    });
    expect(res.status).toBe(201);
    expect(res.body.metadata).toEqual({ constructor: 'Ada' });
  });
});

describe('NUL characters and unpaired surrogates', () => {
  const cases: Array<[string, string, unknown]> = [
    ['NUL in input', '/v1/tasks', { input: 'hello\u0000world' }],
    ['NUL in input_query', '/v1/tasks', { input_query: '\u0000' }],
    ['NUL in task_description', '/v1/tasks', { task_description: 'a\u0000' }],
    ['NUL in a file id', '/v1/tasks', { input: 'x', files: ['a\u0000b'] }],
    ['lone high surrogate in input', '/v1/tasks', { input: 'broken \ud800 pair' }],
    ['lone low surrogate in input', '/v1/tasks', { input: 'broken \udc00 pair' }],
    ['NUL in a seed task', '/tasks', { task_description: 'hello\u0000world' }],
    ['NUL in run-task', '/run-task', { user_input: 'hello\u0000world' }],
    ['NUL in a document title', '/v1/documents', { title: 'a\u0000', content: 'b' }],
    ['NUL in document content', '/v1/documents', { title: 'a', content: 'b\u0000c' }],
    ['NUL in a metadata value', '/v1/documents', { title: 'a', content: 'b', metadata: { k: 'v\u0000' } }],
    ['NUL in a metadata key', '/v1/documents', { title: 'a', content: 'b', metadata: { 'k\u0000': 'v' } }],
    ['NUL deep in metadata', '/v1/documents', { title: 'a', content: 'b', metadata: { list: [{ deep: ['\u0000'] }] } }],
    ['lone surrogate in metadata', '/v1/documents', { title: 'a', content: 'b', metadata: { k: '\ud83d' } }],
  ];

  it.each(cases)('%s → 400 VALIDATION_ERROR', async (_name, path, body) => {
    const err = await expectCase(['', path, postJson(body), 400, 'VALIDATION_ERROR']);
    expect(JSON.stringify(err.details.issues)).toContain('NUL characters or unpaired surrogates');
  });

  it('keeps paired surrogates (emoji) and other control characters', async () => {
    const res = await call<{ id: string }>(base, '/v1/tasks', { json: { input: 'What is 2 + 2? 🙂\ttab' }, headers: { 'x-act-as-tenant': 'hostile-ok' } });
    expect(res.status).toBe(202);
    expect((await call(base, `/v1/tasks/${res.body.id}`, { headers: { 'x-act-as-tenant': 'hostile-ok' } })).body.input).toBe('What is 2 + 2? 🙂\ttab');
  });

  it.each([
    ['/v1/tasks/ab%00cd', 'TASK'],
    ['/v1/tasks/ab%00cd/events', 'TASK'],
    ['/tasks/ab%00cd/status', 'TASK'],
    ['/stream/ab%00cd', 'TASK'],
    ['/metrics/ab%00cd', 'TASK'],
    ['/v1/documents/ab%00cd', 'DOCUMENT'],
    ['/v1/files/ab%00cd', 'FILE'],
    ['/v1/files/ab%00cd/content', 'FILE'],
    ['/v1/tasks/%ED%A0%80', 'TASK'],
  ])('NUL in the path %s → 400 VALIDATION_ERROR', async (path) => {
    await expectCase(['', path, {}, 400, 'VALIDATION_ERROR']);
  });

  // A forged cursor must be checked before its id reaches the database.
  it('refuses a forged cursor holding NUL with 400', async () => {
    const cursor = Buffer.from(JSON.stringify(['2030-01-01T00:00:00.000Z', 'a\u0000b'])).toString('base64url');
    await expectCase(['', `/v1/tasks?cursor=${cursor}`, {}, 400, 'VALIDATION_ERROR']);
  });
});

describe('ids, cursors and query values', () => {
  const cases: Case[] = [
    ['unknown task', '/v1/tasks/00000000-0000-0000-0000-000000000000', {}, 404, 'TASK_NOT_FOUND'],
    ['unknown task, cancel', '/v1/tasks/unknown/cancel', { method: 'POST' }, 404, 'TASK_NOT_FOUND'],
    ['unknown task, metrics', '/v1/tasks/unknown/metrics', {}, 404, 'TASK_NOT_FOUND'],
    ['unknown task, events', '/v1/tasks/unknown/events', {}, 404, 'TASK_NOT_FOUND'],
    ['unknown task, seed execute', '/tasks/unknown/execute', { method: 'POST' }, 404, 'TASK_NOT_FOUND'],
    ['SQL in an id', `/v1/tasks/${encodeURIComponent("x' OR '1'='1")}`, {}, 404, 'TASK_NOT_FOUND'],
    ['path traversal in a file id', '/v1/files/..%2F..%2Fetc%2Fpasswd', {}, 404, 'FILE_NOT_FOUND'],
    ['id of 200 characters', `/v1/tasks/${'a'.repeat(200)}`, {}, 404, 'TASK_NOT_FOUND'],
    ['id of 201 characters', `/v1/tasks/${'a'.repeat(201)}`, {}, 400, 'VALIDATION_ERROR'],
    ['id of 5000 characters', `/v1/tasks/${'a'.repeat(5000)}/events`, {}, 400, 'VALIDATION_ERROR'],
    ['long id, cancel', `/v1/tasks/${'a'.repeat(300)}/cancel`, { method: 'POST' }, 400, 'VALIDATION_ERROR'],
    ['long id, seed status', `/tasks/${'b'.repeat(300)}/status`, {}, 400, 'VALIDATION_ERROR'],
    ['long id, seed stream', `/stream/${'b'.repeat(300)}`, {}, 400, 'VALIDATION_ERROR'],
    ['long id, document', `/v1/documents/${'c'.repeat(300)}`, { method: 'DELETE' }, 400, 'VALIDATION_ERROR'],
    ['long id, file', `/v1/files/${'d'.repeat(300)}/content`, {}, 400, 'VALIDATION_ERROR'],
    ['undecodable percent-encoding', '/v1/tasks/%E0%A4%A', {}, 400, 'VALIDATION_ERROR'],
    ['limit huge', '/v1/tasks?limit=99999999999999999999', {}, 400, 'VALIDATION_ERROR'],
    ['limit a million', '/v1/documents?limit=1000000', {}, 400, 'VALIDATION_ERROR'],
    ['limit negative', '/v1/files?limit=-5', {}, 400, 'VALIDATION_ERROR'],
    ['limit not a number', '/v1/tasks?limit=ten', {}, 400, 'VALIDATION_ERROR'],
    ['limit Infinity', '/v1/tasks?limit=Infinity', {}, 400, 'VALIDATION_ERROR'],
    ['cursor too long', `/v1/tasks?cursor=${'c'.repeat(501)}`, {}, 400, 'VALIDATION_ERROR'],
    ['cursor not base64 JSON', '/v1/documents?cursor=%7B%7D', {}, 400, 'VALIDATION_ERROR'],
    ['cursor with a bad date', `/v1/files?cursor=${Buffer.from('["not a date","x"]').toString('base64url')}`, {}, 400, 'VALIDATION_ERROR'],
    ['status repeated', '/v1/tasks?status=pending&status=failed', {}, 400, 'VALIDATION_ERROR'],
  ];

  it.each(named(cases))('$name → $status $code', async (c) => {
    await expectCase(c);
  });

  it.each([
    ['after negative', '?after=-1', {}],
    ['after not a number', '?after=abc', {}],
    ['after fractional', '?after=2.5', {}],
    ['after beyond a safe integer', '?after=1e20', {}],
    ['Last-Event-ID abc', '', { 'last-event-id': 'abc' }],
    ['Last-Event-ID negative', '', { 'last-event-id': '-1' }],
    ['Last-Event-ID fractional', '', { 'last-event-id': '3.5' }],
    ['Last-Event-ID hex', '', { 'last-event-id': '0x1' }],
  ])('%s → 400 VALIDATION_ERROR on every stream', async (_name, query, headers) => {
    for (const path of [`/v1/tasks/${taskId}/events${query}`, `/v1/tasks/${taskId}/stream${query}`, `/stream/${taskId}${query}`]) {
      await expectCase(['', path, { headers: { ...TENANT, ...headers } }, 400, 'VALIDATION_ERROR']);
    }
  });

  it('serves an empty, finished stream for a cursor far past the end', async () => {
    for (const after of ['2147483648', '9007199254740991']) {
      const res = await call(base, `/v1/tasks/${taskId}/events?format=ndjson&after=${after}`, { headers: TENANT });
      expect(res.status).toBe(200);
      expect(res.text).toBe('');
    }
  });
});

describe('tools, approvals and artifacts', () => {
  const unknownId = '00000000-0000-4000-8000-000000000000';
  const cases = (): Case[] => [
    ['approval: malformed JSON', `/v1/approvals/${unknownId}`, post('{"decision": '), 400, 'INVALID_JSON'],
    ['approval: decision not approve/reject', `/v1/approvals/${unknownId}`, postJson({ decision: 'maybe' }), 400, 'VALIDATION_ERROR'],
    ['approval: unknown field', `/v1/approvals/${unknownId}`, postJson({ decision: 'approve', admin: true }), 400, 'VALIDATION_ERROR'],
    ['approval: reason too long', `/v1/approvals/${unknownId}`, postJson({ decision: 'reject', reason: 'x'.repeat(2001) }), 400, 'VALIDATION_ERROR'],
    ['approval: NUL in the reason', `/v1/approvals/${unknownId}`, postJson({ decision: 'reject', reason: 'a\u0000b' }), 400, 'VALIDATION_ERROR'],
    ['approval: unknown id', `/v1/approvals/${unknownId}`, postJson({ decision: 'approve' }), 404, 'APPROVAL_NOT_FOUND'],
    ['approval: GET unknown id', `/v1/approvals/${unknownId}`, {}, 404, 'APPROVAL_NOT_FOUND'],
    ['approvals: unknown status filter', '/v1/approvals?status=pending,bogus', {}, 400, 'VALIDATION_ERROR'],
    ['approvals: limit 0', '/v1/approvals?limit=0', {}, 400, 'VALIDATION_ERROR'],
    ['invoke: malformed JSON', '/v1/tools/calculator/invoke', post('{"args":'), 400, 'INVALID_JSON'],
    ['invoke: no args field', '/v1/tools/calculator/invoke', postJson({ expression: '1+1' }), 400, 'VALIDATION_ERROR'],
    ['invoke: body is an array', '/v1/tools/calculator/invoke', postJson([1, 2]), 400, 'VALIDATION_ERROR'],
    ['invoke: NUL in the arguments', '/v1/tools/calculator/invoke', postJson({ args: { expression: '1\u0000' } }), 400, 'VALIDATION_ERROR'],
    ['invoke: arguments of the wrong type', '/v1/tools/calculator/invoke', postJson({ args: { expression: 42 } }), 400, 'TOOL_INPUT_INVALID'],
    ['invoke: unknown tool', '/v1/tools/rm_rf/invoke', postJson({ args: {} }), 404, 'TOOL_NOT_FOUND'],
    ['invoke: a tool name with a path in it', '/v1/tools/..%2F..%2Fetc/invoke', postJson({ args: {} }), 404, 'TOOL_NOT_FOUND'],
    ['invoke: bad Idempotency-Key', '/v1/tools/calculator/invoke', { method: 'POST', body: '{"args":{"expression":"1"}}', headers: { ...JSON_TYPE, 'idempotency-key': 'a b' } }, 400, 'VALIDATION_ERROR'],
    ['artifacts of an unknown task', `/v1/tasks/${unknownId}/artifacts`, {}, 404, 'TASK_NOT_FOUND'],
    ['an artifact name that climbs out', `/v1/tasks/${taskId}/artifacts/..%2F..%2Fetc%2Fpasswd`, {}, 404, 'NOT_FOUND'],
    ['an artifact that does not exist', `/v1/tasks/${taskId}/artifacts/report.pdf`, {}, 404, 'NOT_FOUND'],
  ];

  it('answers every hostile request with its code, and creates nothing', async () => {
    for (const c of cases()) await expectCase(c);
    const approvals = (await call(base, '/v1/approvals?status=pending,approved,rejected', { headers: TENANT })).body as { items: unknown[] };
    expect(approvals.items).toEqual([]);
  });
});

describe('unknown routes and methods', () => {
  const cases: Case[] = [
    ['unknown path', '/nope', {}, 404, 'NOT_FOUND'],
    ['unknown /v1 path', '/v1/agents', {}, 404, 'NOT_FOUND'],
    ['unsupported method on a collection', '/v1/tasks', { method: 'PUT', body: '{}', headers: JSON_TYPE }, 404, 'NOT_FOUND'],
    ['DELETE a task', `/v1/tasks/${'x'}`, { method: 'DELETE' }, 404, 'NOT_FOUND'],
    ['GET on a POST-only route', '/run-task', {}, 404, 'NOT_FOUND'],
  ];

  it.each(named(cases))('$name → $status $code', async (c) => {
    const err = await expectCase(c);
    expect(err.message).toMatch(/^No route /);
  });
});

describe('after the barrage', () => {
  it('answers the same requests concurrently without a 500', async () => {
    const requests: Array<Promise<Answer>> = [];
    for (let i = 0; i < 5; i++) {
      requests.push(call(base, '/v1/tasks', { method: 'POST', body: '{"input": ', headers: JSON_TYPE }));
      requests.push(call(base, '/v1/tasks', { method: 'POST', body: JSON.stringify({ input: 'a\u0000b' }), headers: JSON_TYPE }));
      requests.push(call(base, `/v1/tasks/${'z'.repeat(400)}`, { headers: TENANT }));
      requests.push(call(base, '/v1/documents', { method: 'POST', body: '{"title":"x","content":"y","metadata":{"__proto__":{}}}', headers: JSON_TYPE }));
      requests.push(call(base, `/v1/tasks/${taskId}/events`, { headers: { ...TENANT, 'last-event-id': 'abc' } }));
    }
    const answers = await Promise.all(requests);
    expect(answers.map((a) => a.status).filter((s) => s >= 500)).toEqual([]);
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([400]));
  });

  it('left the stored task, its events, the document and the file exactly as they were', async () => {
    const after = await snapshot();
    expect(after).toEqual(before);
    expect((after.tasks as { items: Json[] }).items.map((t) => t.id)).toEqual([taskId]);
    expect((after.documents as { items: Json[] }).items.map((d) => d.id)).toEqual([docId]);
    expect((after.files as { items: Json[] }).items.map((f) => f.id)).toEqual([fileId]);
    expect((after.task as Json).status).toBe('completed');
    expect(({} as Json).polluted).toBeUndefined();
    const health = await call(base, '/health');
    expect(health.body.status).toBe('healthy');
  });
});
