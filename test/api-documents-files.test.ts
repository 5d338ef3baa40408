/**
 * Documents (add, list, page, read, delete, and found by a task's knowledge search) and files
 * (multipart upload, list, metadata, bytes, size limit, media type), each scoped by tenant. The
 * server here takes files and documents of at most 2 KiB so the limit is cheap to cross.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, expectError, expectFinishedLog, ndjsonLines, upload, type Json } from './support/http.js';
import { startTestServer, type TestServer } from './support/server.js';

const MAX_FILE_BYTES = 2048;

let server: TestServer;
let base: string;

beforeAll(async () => {
  server = await startTestServer({ config: { maxFileBytes: MAX_FILE_BYTES } });
  base = server.url;
});

afterAll(async () => {
  await server?.close();
});

/** Runs a task to its end and returns its view and event log. */
async function runTask(body: Json, headers: Record<string, string> = {}): Promise<{ view: Json; events: Json[] }> {
  const created = await call<{ id: string }>(base, '/v1/tasks', { json: body, headers });
  expect(created.status, created.text).toBe(202);
  const events = ndjsonLines((await call(base, `/v1/tasks/${created.body.id}/events?format=ndjson`, { headers })).text);
  expectFinishedLog(events, created.body.id);
  return { view: (await call(base, `/v1/tasks/${created.body.id}`, { headers })).body, events };
}

interface Doc {
  id: string;
  tenant_id: string;
  title: string;
  metadata: Json;
  chunks: number;
  size: number;
  created_at: string;
  content?: string;
}

describe('documents', () => {
  const headers = { 'x-act-as-tenant': 'docs' };

  it('adds a document with 201 and reads it back with its content', async () => {
    const body = { title: 'Capybara notes', content: 'Capybaras are the largest living rodents. They graze on grasses.', metadata: { source: 'field', year: 2024 } };
    const res = await call<Doc>(base, '/v1/documents', { json: body, headers });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(['chunks', 'created_at', 'id', 'metadata', 'size', 'tenant_id', 'title']);
    expect(res.body).toMatchObject({ tenant_id: 'docs', title: body.title, metadata: body.metadata, size: body.content.length });
    expect(res.body.chunks).toBeGreaterThanOrEqual(1);

    const one = await call<Doc>(base, `/v1/documents/${res.body.id}`, { headers });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: res.body.id, title: body.title, content: body.content, metadata: body.metadata });
  });

  it('lists documents newest first and pages through them with the cursor', async () => {
    const pagedHeaders = { 'x-act-as-tenant': 'docs-paged' };
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await call<Doc>(base, '/v1/documents', { json: { title: `Doc ${i}`, content: `Body number ${i}.` }, headers: pagedHeaders })).body.id);
    }
    const all = await call<{ items: Doc[]; next_cursor: string | null }>(base, '/v1/documents', { headers: pagedHeaders });
    expect(Object.keys(all.body).sort()).toEqual(['items', 'next_cursor']);
    expect(all.body.items.map((d) => d.id)).toEqual([...ids].reverse());
    expect(all.body.next_cursor).toBeNull();
    expect(all.body.items.every((d) => d.content === undefined)).toBe(true);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2';
      const page = await call<{ items: Doc[]; next_cursor: string | null }>(base, `/v1/documents${query}`, { headers: pagedHeaders });
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((d) => d.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());

    expectError(await call(base, '/v1/documents?limit=101'), 400, 'VALIDATION_ERROR');
    expectError(await call(base, '/v1/documents?limit=0'), 400, 'VALIDATION_ERROR');
    expectError(await call(base, '/v1/documents?cursor=bogus'), 400, 'VALIDATION_ERROR');
  });

  it('is found by a task\'s knowledge search, and no longer once deleted (204, then 404)', async () => {
    const content = 'The okapi is a forest giraffe from the Congo. Okapis have striped legs like a zebra.';
    const doc = await call<Doc>(base, '/v1/documents', { json: { title: 'Okapi brief', content }, headers });
    expect(doc.status).toBe(201);

    const found = await runTask({ input: 'What do our documents say about okapis?' }, headers);
    expect(found.view.status).toBe('completed');
    expect(found.view.final_output).toContain('The okapi is a forest giraffe from the Congo.');
    expect(found.view.final_output).toContain(doc.body.id);
    const search = found.events.find((e) => e.type === 'tool_call_completed' && (e.data as Json).tool === 'knowledge_search');
    expect(search, 'the task called knowledge_search').toBeDefined();
    expect((search!.data as Json).ok).toBe(true);

    const deleted = await call(base, `/v1/documents/${doc.body.id}`, { method: 'DELETE', headers });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    const gone = expectError(await call(base, `/v1/documents/${doc.body.id}`, { headers }), 404, 'DOCUMENT_NOT_FOUND');
    expect(gone.details).toEqual({ document_id: doc.body.id });
    expectError(await call(base, `/v1/documents/${doc.body.id}`, { method: 'DELETE', headers }), 404, 'DOCUMENT_NOT_FOUND');

    const after = await runTask({ input: 'What do our documents say about okapis?' }, headers);
    expect(after.view.final_output).not.toContain('forest giraffe');
    expect(after.view.final_output).not.toContain(doc.body.id);
  });

  it('keeps each tenant\'s documents to itself, in the API and in knowledge search', async () => {
    const secret = await call<Doc>(base, '/v1/documents', {
      json: { title: 'Tapir secrets', content: 'Tapirs use their snouts to grab fruit. Tapirs are shy swimmers.' },
      headers: { 'x-act-as-tenant': 'docs-owner' },
    });
    expect(secret.status).toBe(201);
    const other = { 'x-act-as-tenant': 'docs-stranger' };
    expectError(await call(base, `/v1/documents/${secret.body.id}`, { headers: other }), 404, 'DOCUMENT_NOT_FOUND');
    expectError(await call(base, `/v1/documents/${secret.body.id}`, { method: 'DELETE', headers: other }), 404, 'DOCUMENT_NOT_FOUND');
    expect((await call<{ items: Doc[] }>(base, '/v1/documents', { headers: other })).body.items).toEqual([]);

    const stranger = await runTask({ input: 'What do our documents say about tapirs?' }, other);
    expect(stranger.view.final_output).not.toContain('snouts');
    expect(stranger.view.final_output).not.toContain(secret.body.id);
    const owner = await runTask({ input: 'What do our documents say about tapirs?' }, { 'x-act-as-tenant': 'docs-owner' });
    expect(owner.view.final_output).toContain('Tapirs use their snouts to grab fruit.');
    // Still there for its owner.
    expect((await call(base, `/v1/documents/${secret.body.id}`, { headers: { 'x-act-as-tenant': 'docs-owner' } })).status).toBe(200);
  });

  it('refuses invalid documents with 400 and an oversized one with 413', async () => {
    expectError(await call(base, '/v1/documents', { json: { title: 'No content' } }), 400, 'VALIDATION_ERROR');
    expectError(await call(base, '/v1/documents', { json: { title: '', content: 'x' } }), 400, 'VALIDATION_ERROR');
    expectError(await call(base, '/v1/documents', { json: { title: 'x', content: '' } }), 400, 'VALIDATION_ERROR');
    expectError(await call(base, '/v1/documents', { json: { title: 'x', content: 'y', extra: true } }), 400, 'VALIDATION_ERROR');
    expectError(await call(base, '/v1/documents', { json: { title: 'x', content: 'y', metadata: ['not', 'a', 'map'] } }), 400, 'VALIDATION_ERROR');
    expectError(await call(base, '/v1/documents', { json: { title: 'Big', content: 'z'.repeat(MAX_FILE_BYTES + 1) } }), 413, 'PAYLOAD_TOO_LARGE');
    expectError(await call(base, '/v1/documents/nope'), 404, 'DOCUMENT_NOT_FOUND');
  });
});

interface StoredFile {
  id: string;
  name: string;
  content_type: string;
  size: number;
  sha256: string;
  created_at: string;
}

describe('files', () => {
  const headers = { 'x-act-as-tenant': 'files' };
  const csv = 'team,points\nred,3\nblue,7\nred,4\ngreen,1\n';

  it('uploads multipart with 201, sha256 and size, and serves the exact bytes back', async () => {
    const res = await upload(base, 'scores.csv', csv, 'text/csv', headers);
    expect(res.status).toBe(201);
    const file = res.body as unknown as StoredFile;
    expect(Object.keys(file).sort()).toEqual(['content_type', 'created_at', 'id', 'name', 'sha256', 'size']);
    expect(file).toMatchObject({
      name: 'scores.csv',
      content_type: 'text/csv',
      size: Buffer.byteLength(csv),
      sha256: createHash('sha256').update(csv).digest('hex'),
    });

    const meta = await call(base, `/v1/files/${file.id}`, { headers });
    expect(meta.status).toBe(200);
    expect(meta.body).toEqual(file);

    const content = await fetch(`${base}/v1/files/${file.id}/content`, { headers });
    expect(content.status).toBe(200);
    expect(content.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(content.headers.get('content-disposition')).toBe(`attachment; filename="scores.csv"; filename*=UTF-8''scores.csv`);
    expect(content.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await content.text()).toBe(csv);
  });

  it('keeps binary bytes and unusual names intact', async () => {
    const bytes = new Uint8Array([0, 1, 2, 0xfe, 0xff, 0x80, 0x0a, 0x0d, 0x00]);
    // Characters beyond Latin-1 cannot go into a header as they are: the name travels RFC 5987-encoded.
    const res = await upload(base, 'données 日本 (1).bin', bytes, 'application/octet-stream', headers);
    expect(res.status).toBe(201);
    const file = res.body as unknown as StoredFile;
    expect(file.name).toBe('données 日本 (1).bin');
    expect(file.size).toBe(bytes.length);
    expect(file.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    const content = await fetch(`${base}/v1/files/${file.id}/content`, { headers });
    expect(content.status).toBe(200);
    expect(new Uint8Array(await content.arrayBuffer())).toEqual(bytes);
    expect(content.headers.get('content-disposition')).toBe(`attachment; filename="donn_es __ (1).bin"; filename*=UTF-8''donn%C3%A9es%20%E6%97%A5%E6%9C%AC%20%281%29.bin`);
  });

  it('lists files newest first, with pagination', async () => {
    const listHeaders = { 'x-act-as-tenant': 'files-list' };
    const ids: string[] = [];
    for (const name of ['a.txt', 'b.txt', 'c.txt']) ids.push((await upload(base, name, name, 'text/plain', listHeaders)).body.id as string);
    const all = await call<{ items: StoredFile[]; next_cursor: string | null }>(base, '/v1/files', { headers: listHeaders });
    expect(all.status).toBe(200);
    expect(all.body.items.map((f) => f.id)).toEqual([...ids].reverse());
    expect(all.body.items.map((f) => f.name)).toEqual(['c.txt', 'b.txt', 'a.txt']);
    expect(all.body.next_cursor).toBeNull();
    const first = await call<{ items: StoredFile[]; next_cursor: string }>(base, '/v1/files?limit=2', { headers: listHeaders });
    expect(first.body.items.map((f) => f.id)).toEqual([ids[2], ids[1]]);
    const rest = await call<{ items: StoredFile[]; next_cursor: string | null }>(base, `/v1/files?limit=2&cursor=${first.body.next_cursor}`, { headers: listHeaders });
    expect(rest.body.items.map((f) => f.id)).toEqual([ids[0]]);
    expect(rest.body.next_cursor).toBeNull();
    expectError(await call(base, '/v1/files?limit=500'), 400, 'VALIDATION_ERROR');
  });

  it('lets a task profile an uploaded CSV with real figures', async () => {
    const file = (await upload(base, 'scores.csv', csv, 'text/csv', headers)).body as unknown as StoredFile;
    const { view, events } = await runTask({ input: 'Total points by team', files: [file.id] }, headers);
    expect(view.status).toBe('completed');
    expect(view.files).toEqual([file.id]);
    const profile = events.find((e) => e.type === 'tool_call_completed' && (e.data as Json).tool === 'data_profile');
    expect(profile, 'the task called data_profile').toBeDefined();
    // red 3 + 4 = 7, blue 7, green 1: 15 points in all.
    expect(view.final_output).toMatch(/\| red \| 2 \| 7 \|/);
    expect(view.final_output).toMatch(/\| blue \| 1 \| 7 \|/);
    expect(view.final_output).toContain('15');
  });

  it('refuses a file over the limit with 413 and stores nothing', async () => {
    const listHeaders = { 'x-act-as-tenant': 'files-big' };
    const big = await upload(base, 'big.csv', 'x'.repeat(MAX_FILE_BYTES + 1), 'text/csv', listHeaders);
    expectError(big, 413, 'PAYLOAD_TOO_LARGE');
    const exact = await upload(base, 'exact.csv', 'y'.repeat(MAX_FILE_BYTES), 'text/csv', listHeaders);
    expect(exact.status).toBe(201);
    expect(exact.body.size).toBe(MAX_FILE_BYTES);
    const list = await call<{ items: StoredFile[] }>(base, '/v1/files', { headers: listHeaders });
    expect(list.body.items.map((f) => f.name)).toEqual(['exact.csv']);
  });

  it('refuses a body that is not multipart with 415, and an unreadable form with 400', async () => {
    const json = expectError(await call(base, '/v1/files', { json: { file: 'abc' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(json.message).toContain('multipart/form-data');
    expectError(await call(base, '/v1/files', { method: 'POST', body: 'abc', headers: { 'content-type': 'text/csv' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await call(base, '/v1/files', { method: 'POST' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await call(base, '/v1/files', { method: 'POST', body: new FormData() }), 400, 'VALIDATION_ERROR');
    expectError(await call(base, '/v1/files', { method: 'POST', body: 'abc', headers: { 'content-type': 'multipart/form-data' } }), 400, 'VALIDATION_ERROR');
    const truncated = '--XX\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nabc';
    expectError(
      await call(base, '/v1/files', { method: 'POST', body: truncated, headers: { 'content-type': 'multipart/form-data; boundary=XX' } }),
      400,
      'VALIDATION_ERROR',
    );
  });

  it('stores control characters in a name as "_" and an invalid media type as octet-stream', async () => {
    const body =
      '--XX\r\nContent-Disposition: form-data; name="file"; filename="a\u0000b\u0007.csv"\r\nContent-Type: text/csv\u0000evil\r\n\r\nk,v\n1,2\n\r\n--XX--\r\n';
    const res = await call<StoredFile>(base, '/v1/files', { method: 'POST', body, headers: { 'content-type': 'multipart/form-data; boundary=XX', ...headers } });
    expect(res.status, res.text).toBe(201);
    expect(res.body.name).toBe('a_b_.csv');
    expect(res.body.content_type).toBe('application/octet-stream');
    const content = await fetch(`${base}/v1/files/${res.body.id}/content`, { headers });
    expect(await content.text()).toBe('k,v\n1,2\n');
  });

  it('keeps each tenant\'s files to itself', async () => {
    const file = (await upload(base, 'private.csv', csv, 'text/csv', { 'x-act-as-tenant': 'files-owner' })).body as unknown as StoredFile;
    const other = { 'x-act-as-tenant': 'files-stranger' };
    expectError(await call(base, `/v1/files/${file.id}`, { headers: other }), 404, 'FILE_NOT_FOUND');
    expectError(await call(base, `/v1/files/${file.id}/content`, { headers: other }), 404, 'FILE_NOT_FOUND');
    expect((await call<{ items: StoredFile[] }>(base, '/v1/files', { headers: other })).body.items).toEqual([]);
    const attach = expectError(await call(base, '/v1/tasks', { json: { input: 'Profile it', files: [file.id] }, headers: other }), 404, 'FILE_NOT_FOUND');
    expect(attach.details).toEqual({ file_id: file.id });
    expectError(await call(base, '/v1/files/nope'), 404, 'FILE_NOT_FOUND');
    expectError(await call(base, '/v1/files/nope/content'), 404, 'FILE_NOT_FOUND');
  });
});
