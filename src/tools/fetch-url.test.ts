import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AppError } from '../errors.js';
import { createFetchUrlTool } from './fetch-url.js';
import type { FetchUrlOptions, FetchUrlOutput, HostLookup, ResolvedAddress } from './fetch-url.js';
import { ToolRegistry } from './registry.js';
import { appErrorOf, toolContext } from '../../test/support/tool-context.js';

// ---------------------------------------------------------------------------------------------
// A local web server standing in for the internet

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>  Quarterly &amp; Annual Report </title>
<style>body { color: red }</style><script>window.secret = "do-not-leak";</script></head>
<body><nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<h1>Results</h1>
<p>Revenue grew by <b>12%</b>. See the <a href="/details?q=1">details page</a>.</p>
<img src="/chart.png" alt="chart">
<ul><li>North</li><li>South</li></ul>
</body></html>`;

/** A throwaway self-signed certificate for "secure.test" (P-256, valid until 2126); it protects nothing. */
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUf5qMHn0VPFODrLewVDRoeW4Yky8wCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLc2VjdXJlLnRlc3QwIBcNMjYxMTIxMTkyMjQxWhgPMjEyNjEw
MjgxOTIyNDFaMBYxFDASBgNVBAMMC3NlY3VyZS50ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEhW8XF8A5vq9yyuIRyvcDuKkWaotzjRAf2zvuNXKN/6ItEsdP
KT/yyoEADMFc16ThGnyCOtmBdkxtBk2nt6+rs6NrMGkwHQYDVR0OBBYEFLs785+2
BM1zvw0JuA9OePTfddNeMB8GA1UdIwQYMBaAFLs785+2BM1zvw0JuA9OePTfddNe
MA8GA1UdEwEB/wQFMAMBAf8wFgYDVR0RBA8wDYILc2VjdXJlLnRlc3QwCgYIKoZI
zj0EAwIDSAAwRQIhAKod5chmcsftjHo+oEFTe8UntVEwYdMi9sp7Yqyx84FNAiBi
+uMsAkCSiRrUjK1mK085YmfWXEF1KN31CMQVtWC5PA==
-----END CERTIFICATE-----`;
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg1Cth2KE7IlXu/Aei
LY9Jh83GQLHqCFJveWlTzGpbvxChRANCAASFbxcXwDm+r3LK4hHK9wO4qRZqi3ON
EB/bO+41co3/oi0Sx08pP/LKgQAMwVzXpOEafII62YF2TG0GTae3r6uz
-----END PRIVATE KEY-----`;

const BIG_SIZE = 1024 * 1024;
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

interface Seen {
  path: string;
  host: string | undefined;
}

const seen: Seen[] = [];
let server: Server;
let port = 0;
let base = '';
const dripTimers = new Set<NodeJS.Timeout>();

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, ...headers });
  res.end(body);
}

function route(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://local');
  seen.push({ path: url.pathname + url.search, host: req.headers.host });
  switch (url.pathname) {
    case '/page':
      return send(res, 200, 'text/html; charset=utf-8', PAGE);
    case '/plain':
      return send(res, 200, 'text/plain', 'line one\n  line two\n');
    case '/json':
      return send(res, 200, 'application/json', '{"name":"agentic","tags":["a","b"],"n":1}');
    case '/latin1':
      return send(res, 200, 'text/plain; charset=iso-8859-1', Buffer.from([0x63, 0x61, 0x66, 0xe9])); // "café"
    case '/gzip':
      return send(res, 200, 'text/html', gzipSync(PAGE), { 'content-encoding': 'gzip' });
    case '/bomb':
      return send(res, 200, 'text/plain', gzipSync(Buffer.alloc(20 * 1024 * 1024, 'a')), { 'content-encoding': 'gzip' });
    case '/weird-encoding':
      return send(res, 200, 'text/plain', 'xx', { 'content-encoding': 'zstd-custom' });
    case '/big':
      return send(res, 200, 'text/plain', Buffer.alloc(BIG_SIZE, 'x'));
    case '/png':
      return send(res, 200, 'image/png', PNG);
    case '/pdf':
      return send(res, 200, 'application/pdf', '%PDF-1.7\n%\xe2\xe3\xcf\xd3\n');
    case '/octet-binary':
      return send(res, 200, 'application/octet-stream', Buffer.from([0x00, 0x01, 0x02, 0x03, 0x00, 0xff]));
    case '/octet-text':
      return send(res, 200, 'application/octet-stream', '# README\nplain words\n');
    case '/untyped-html':
      res.writeHead(200);
      return void res.end(PAGE);
    case '/html-with-nul':
      return send(res, 200, 'text/html', Buffer.concat([Buffer.from('<html>'), Buffer.alloc(64, 0)]));
    case '/missing':
      return send(res, 404, 'text/html', '<html><head><title>Not Found</title></head><body><p>No such page.</p></body></html>');
    case '/unavailable':
      return send(res, 503, 'text/plain', 'try later');
    case '/busy':
      return send(res, 429, 'text/plain', 'slow down', { 'retry-after': '3' });
    case '/redirect':
      res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: url.searchParams.get('to') ?? '/page' });
      return void res.end();
    case '/hops': {
      const n = Number(url.searchParams.get('n') ?? 0);
      res.writeHead(301, { location: n > 0 ? `/hops?n=${n - 1}` : '/page#section' });
      return void res.end();
    }
    case '/loop':
      res.writeHead(302, { location: '/loop' });
      return void res.end();
    case '/slow-body': {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first chunk\n');
      const timer = setInterval(() => res.write('.'), 100);
      dripTimers.add(timer);
      res.on('close', () => {
        clearInterval(timer);
        dripTimers.delete(timer);
      });
      return;
    }
    case '/no-answer':
      return; // never answers
    default:
      return send(res, 404, 'text/plain', 'unknown route');
  }
}

beforeAll(async () => {
  server = createServer(route);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  for (const timer of dripTimers) clearInterval(timer);
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen.length = 0;
});

// ---------------------------------------------------------------------------------------------
// Helpers

/** A resolver with fixed answers; each name may have a list of answers, used in turn (the last one repeats). */
function fakeDns(answers: Record<string, string[][]>): HostLookup & { calls: string[] } {
  const calls: string[] = [];
  const used = new Map<string, number>();
  const lookup = async (hostname: string): Promise<ResolvedAddress[]> => {
    calls.push(hostname);
    const list = answers[hostname];
    if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    const index = used.get(hostname) ?? 0;
    used.set(hostname, index + 1);
    const addresses = list[Math.min(index, list.length - 1)] ?? [];
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(lookup, { calls });
}

function fetcher(options: FetchUrlOptions = {}) {
  const registry = new ToolRegistry().register(createFetchUrlTool(options));
  return {
    fetch: async (args: unknown, signal?: AbortSignal) =>
      (await registry.invoke('fetch_url', args, toolContext({ signal }))) as FetchUrlOutput,
    failure: (args: unknown, signal?: AbortSignal): Promise<AppError> => appErrorOf(registry.invoke('fetch_url', args, toolContext({ signal }))),
  };
}

/** A fetcher that may reach the local server (127.0.0.1 is allow-listed) and resolves names only through `dns`. */
function localFetcher(options: FetchUrlOptions = {}) {
  return fetcher({ allow: ['127.0.0.1'], lookup: fakeDns({}), ...options });
}

// ---------------------------------------------------------------------------------------------

describe('fetch_url blocks requests to internal addresses', () => {
  const literalTargets = [
    ['loopback', () => `${base}/page`],
    ['IPv6 loopback', () => 'http://[::1]/'],
    ['10/8 private', () => 'http://10.1.2.3/'],
    ['172.16/12 private', () => 'http://172.16.5.4/'],
    ['172.31 private', () => 'https://172.31.255.254/admin'],
    ['192.168/16 private', () => 'http://192.168.1.1/'],
    ['cloud metadata', () => 'http://169.254.169.254/latest/meta-data/iam/'],
    ['link-local', () => 'http://169.254.10.10/'],
    ['unspecified', () => 'http://0.0.0.0/'],
    ['carrier-grade NAT', () => 'http://100.64.0.1/'],
    ['multicast', () => 'http://224.0.0.1/'],
    ['broadcast', () => 'http://255.255.255.255/'],
    ['IPv4-mapped loopback', () => 'http://[::ffff:127.0.0.1]/'],
    ['IPv4-mapped metadata', () => 'http://[::ffff:169.254.169.254]/'],
    ['NAT64 metadata', () => 'http://[64:ff9b::a9fe:a9fe]/'],
    ['6to4 loopback', () => 'http://[2002:7f00:1::]/'],
    ['IPv6 unique-local', () => 'http://[fd00::1]/'],
    ['IPv6 link-local', () => 'http://[fe80::1]/'],
    ['IPv6 unspecified', () => 'http://[::]/'],
    ['decimal IPv4', () => `http://2130706433:${port}/page`],
    ['hex IPv4', () => `http://0x7f.1:${port}/page`],
    ['octal IPv4', () => `http://0177.0.0.1:${port}/page`],
    ['short IPv4', () => `http://127.1:${port}/page`],
    ['hex dotted IPv4', () => 'http://0xa9.0xfe.0xa9.0xfe/'],
  ] as const;

  it.each(literalTargets)('refuses %s with URL_BLOCKED without connecting or resolving', async (_name, target) => {
    const dns = fakeDns({});
    const err = await fetcher({ lookup: dns }).failure({ url: target() });
    expect(err.code).toBe('URL_BLOCKED');
    expect(err.retryable).toBe(false);
    expect(typeof err.details.reason).toBe('string');
    expect(dns.calls).toEqual([]);
    expect(seen).toEqual([]);
  });

  it('names the address and the reason for the metadata endpoint', async () => {
    const err = await fetcher().failure({ url: 'http://169.254.169.254/latest/meta-data/' });
    expect(err.code).toBe('URL_BLOCKED');
    expect(err.details).toMatchObject({ address: '169.254.169.254', reason: 'a cloud metadata address' });
  });

  it.each(['localhost', 'LOCALHOST.', 'api.localhost'])('refuses the name %s before any DNS lookup', async (host) => {
    const dns = fakeDns({ [host]: [['93.184.215.14']] });
    const err = await fetcher({ lookup: dns }).failure({ url: `http://${host}:${port}/page` });
    expect(err.code).toBe('URL_BLOCKED');
    expect(dns.calls).toEqual([]);
  });

  it('refuses a public-looking name that resolves to a private address', async () => {
    const dns = fakeDns({ 'intranet.example.com': [['10.0.0.7']] });
    const err = await fetcher({ lookup: dns }).failure({ url: 'https://intranet.example.com/wiki' });
    expect(err.code).toBe('URL_BLOCKED');
    expect(err.details).toMatchObject({ host: 'intranet.example.com', address: '10.0.0.7', reason: 'a private address' });
    expect(err.message).toContain('intranet.example.com resolves to 10.0.0.7');
  });

  it('refuses a name when any one of its addresses is private', async () => {
    const dns = fakeDns({ 'mixed.example.com': [['93.184.215.14', '127.0.0.1']] });
    const err = await fetcher({ lookup: dns }).failure({ url: 'http://mixed.example.com/' });
    expect(err.code).toBe('URL_BLOCKED');
    expect(err.details.address).toBe('127.0.0.1');
  });

  it('refuses a name that resolves to an IPv4-mapped private address', async () => {
    const dns = fakeDns({ 'sneaky.example.com': [['::ffff:10.0.0.1']] });
    const err = await fetcher({ lookup: dns }).failure({ url: 'http://sneaky.example.com/' });
    expect(err.code).toBe('URL_BLOCKED');
    expect(err.details.reason).toBe('a private address (embedded in an IPv6 address)');
  });

  it.each([
    'file:///etc/passwd',
    'ftp://ftp.example.com/pub/file.txt',
    'gopher://example.com:70/_GET%20/',
    'data:text/plain,hello',
    'javascript:alert(1)',
    'ws://example.com/socket',
  ])('refuses the non-http URL %s with URL_BLOCKED', async (url) => {
    const err = await fetcher().failure({ url });
    expect(err.code).toBe('URL_BLOCKED');
    expect(err.message).toContain('Only http and https');
  });

  it.each(['http://user:secret@example.com/', 'http://example.com@10.0.0.1/', 'https://token@example.com/'])(
    'refuses credentials in %s with URL_BLOCKED',
    async (url) => {
      const dns = fakeDns({ 'example.com': [['93.184.215.14']] });
      const err = await fetcher({ lookup: dns }).failure({ url });
      expect(err.code).toBe('URL_BLOCKED');
      expect(err.message).toContain('user name or password');
      expect(dns.calls).toEqual([]);
    },
  );

  it('refuses a public address on a port outside the allowed ports, without connecting', async () => {
    const dns = fakeDns({ 'example.com': [['93.184.215.14']] });
    const err = await fetcher({ lookup: dns }).failure({ url: 'http://example.com:22/' });
    expect(err.code).toBe('URL_BLOCKED');
    expect(err.details.port).toBe(22);
  });

  it('rejects input that is not an absolute URL with TOOL_INPUT_INVALID', async () => {
    const { failure } = fetcher();
    expect((await failure({ url: 'not a url' })).code).toBe('TOOL_INPUT_INVALID');
    expect((await failure({ url: '/relative/path' })).code).toBe('TOOL_INPUT_INVALID');
    expect((await failure({ url: '' })).code).toBe('TOOL_INPUT_INVALID');
    expect((await failure({ url: `https://example.com/${'a'.repeat(2100)}` })).code).toBe('TOOL_INPUT_INVALID');
  });

  it('reports an unknown host as a non-retryable FETCH_FAILED', async () => {
    const err = await fetcher({ lookup: fakeDns({}) }).failure({ url: 'https://no-such-host.example/' });
    expect(err.code).toBe('FETCH_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.details.reason).toBe('dns');
  });

  it('refuses an allow-list entry it cannot read with CONFIG_INVALID', () => {
    expect(() => createFetchUrlTool({ allow: ['http://wiki.internal/'] })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
    expect(() => createFetchUrlTool({ allow: ['10.0.0.0/33'] })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});

describe('fetch_url pins the connection to the checked address', () => {
  it('connects to the address it checked, keeping the original name as Host', async () => {
    // ".invalid" never resolves through the system resolver, so success proves no second lookup happened.
    const dns = fakeDns({ 'pinned.invalid': [['127.0.0.1']] });
    const out = await localFetcher({ lookup: dns }).fetch({ url: `http://pinned.invalid:${port}/plain` });
    expect(out.text).toBe('line one\n  line two\n');
    expect(seen).toEqual([{ path: '/plain', host: `pinned.invalid:${port}` }]);
    expect(dns.calls).toEqual(['pinned.invalid']);
  });

  it('is not fooled by DNS rebinding: the name is resolved once per request', async () => {
    // A rebinding resolver: allowed address first, the metadata address on every later lookup.
    const dns = fakeDns({ 'rebind.test': [['127.0.0.1'], ['169.254.169.254']] });
    const out = await localFetcher({ lookup: dns }).fetch({ url: `http://rebind.test:${port}/page` });
    expect(out.status).toBe(200);
    expect(out.title).toBe('Quarterly & Annual Report');
    expect(dns.calls).toEqual(['rebind.test']);
  });

  it('re-resolves and re-checks the name on a redirect, so a rebinding there is blocked', async () => {
    const dns = fakeDns({ 'rebind.test': [['127.0.0.1'], ['169.254.169.254']] });
    const next = encodeURIComponent(`http://rebind.test:${port}/page`);
    const err = await localFetcher({ lookup: dns }).failure({ url: `http://rebind.test:${port}/redirect?to=${next}` });
    expect(err.code).toBe('URL_BLOCKED');
    expect(err.details.address).toBe('169.254.169.254');
    expect(dns.calls).toEqual(['rebind.test', 'rebind.test']);
    expect(seen.map((s) => s.path)).toEqual([`/redirect?to=${next}`]);
  });

  it('keeps the original name for TLS: it is sent as SNI and the certificate is verified', async () => {
    const serverNames: string[] = [];
    const tlsServer = createHttpsServer(
      {
        cert: TEST_CERT,
        key: TEST_KEY,
        SNICallback: (name, done) => {
          serverNames.push(name);
          done(null, createSecureContext({ cert: TEST_CERT, key: TEST_KEY }));
        },
      },
      (_req, res) => res.end('should never be read'),
    );
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    try {
      const tlsPort = (tlsServer.address() as AddressInfo).port;
      const dns = fakeDns({ 'secure.test': [['127.0.0.1']] });
      const err = await localFetcher({ lookup: dns }).failure({ url: `https://secure.test:${tlsPort}/` });
      expect(err.code).toBe('FETCH_FAILED');
      // A self-signed certificate is refused: verification is on although the socket goes to an IP address.
      expect(err.details.error_code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
      expect(err.retryable).toBe(false);
      expect(serverNames).toEqual(['secure.test']);
    } finally {
      tlsServer.closeAllConnections();
      await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
    }
  });

  it('tries the next checked address when one refuses the connection', async () => {
    const dns = fakeDns({ 'dual.test': [['::1', '127.0.0.1']] });
    const out = await localFetcher({ allow: ['127.0.0.1', '::1'], lookup: dns }).fetch({ url: `http://dual.test:${port}/plain` });
    expect(out.status).toBe(200);
    expect(seen).toHaveLength(1);
  });

  it('admits allow-listed host names and ranges, and only those', async () => {
    const dns = fakeDns({ 'wiki.internal': [['127.0.0.1']], 'other.internal': [['127.0.0.1']] });
    const byName = fetcher({ allow: ['wiki.internal'], lookup: dns });
    expect((await byName.fetch({ url: `http://wiki.internal:${port}/plain` })).status).toBe(200);
    expect((await byName.failure({ url: `http://other.internal:${port}/plain` })).code).toBe('URL_BLOCKED');
    const byRange = fetcher({ allow: ['127.0.0.0/8'], lookup: dns });
    expect((await byRange.fetch({ url: `http://other.internal:${port}/plain` })).status).toBe(200);
  });
});

describe('fetch_url reads pages', () => {
  it('turns HTML into readable text with the title, absolute links and no scripts or navigation', async () => {
    const out = await localFetcher().fetch({ url: `${base}/page` });
    expect(out).toMatchObject({
      url: `${base}/page`,
      status: 200,
      content_type: 'text/html',
      title: 'Quarterly & Annual Report',
      truncated: false,
      bytes: Buffer.byteLength(PAGE),
    });
    expect(out.text).toContain('Results');
    expect(out.text).toContain('Revenue grew by 12%.');
    expect(out.text).toContain(`details page [${base}/details?q=1]`);
    expect(out.text).toContain('* North');
    expect(out.text).not.toContain('do-not-leak');
    expect(out.text).not.toContain('color: red');
    expect(out.text).not.toContain('About');
  });

  it('passes plain text through and pretty-prints JSON', async () => {
    const { fetch } = localFetcher();
    const plain = await fetch({ url: `${base}/plain` });
    expect(plain).toMatchObject({ content_type: 'text/plain', text: 'line one\n  line two\n', truncated: false });
    expect(plain.title).toBeUndefined();
    const json = await fetch({ url: `${base}/json` });
    expect(json.content_type).toBe('application/json');
    expect(json.text).toBe(JSON.stringify({ name: 'agentic', tags: ['a', 'b'], n: 1 }, null, 2));
  });

  it('decodes the declared charset and gzip', async () => {
    const { fetch } = localFetcher();
    expect((await fetch({ url: `${base}/latin1` })).text).toBe('café');
    const gz = await fetch({ url: `${base}/gzip` });
    expect(gz.title).toBe('Quarterly & Annual Report');
    expect(gz.bytes).toBe(Buffer.byteLength(PAGE));
  });

  it('sniffs HTML that comes without a content type', async () => {
    const out = await localFetcher().fetch({ url: `${base}/untyped-html` });
    expect(out.content_type).toBe('text/html');
    expect(out.title).toBe('Quarterly & Annual Report');
  });

  it('follows redirects and reports the final URL', async () => {
    const out = await localFetcher().fetch({ url: `${base}/hops?n=3` });
    expect(out.url).toBe(`${base}/page`);
    expect(out.status).toBe(200);
    expect(seen.map((s) => s.path)).toEqual(['/hops?n=3', '/hops?n=2', '/hops?n=1', '/hops?n=0', '/page']);
  });

  it('gives up after the redirect limit with a non-retryable FETCH_FAILED', async () => {
    const err = await localFetcher({ maxRedirects: 3 }).failure({ url: `${base}/loop` });
    expect(err.code).toBe('FETCH_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.details.reason).toBe('too_many_redirects');
    expect(seen).toHaveLength(4);
  });

  it.each([
    ['the metadata address', 'http://169.254.169.254/latest/meta-data/'],
    ['a private address', 'http://10.0.0.1/admin'],
    ['an IPv6 loopback', 'http://[::1]/'],
    ['a file URL', 'file:///etc/passwd'],
    ['a URL with credentials', 'http://admin:admin@example.com/'],
  ])('blocks a redirect from an allowed page to %s', async (_name, location) => {
    const err = await localFetcher().failure({ url: `${base}/redirect?to=${encodeURIComponent(location)}` });
    expect(err.code).toBe('URL_BLOCKED');
    expect(seen).toHaveLength(1);
  });

  it('blocks a redirect to a name that resolves to a private address', async () => {
    const dns = fakeDns({ 'evil.example': [['192.168.0.10']] });
    const err = await localFetcher({ lookup: dns }).failure({
      url: `${base}/redirect?status=307&to=${encodeURIComponent('http://evil.example/')}`,
    });
    expect(err.code).toBe('URL_BLOCKED');
    expect(err.details.address).toBe('192.168.0.10');
  });

  it('returns 4xx pages as results with their status', async () => {
    const out = await localFetcher().fetch({ url: `${base}/missing` });
    expect(out).toMatchObject({ status: 404, title: 'Not Found', text: 'No such page.' });
  });

  it.each([
    ['/unavailable', 503],
    ['/busy', 429],
  ])('fails %s with a retryable FETCH_FAILED carrying the status', async (path, status) => {
    const err = await localFetcher().failure({ url: `${base}${path}` });
    expect(err.code).toBe('FETCH_FAILED');
    expect(err.retryable).toBe(true);
    expect(err.details).toMatchObject({ status, reason: 'http_status' });
  });

  it('cuts an oversized body at maxBytes and says so', async () => {
    const maxBytes = 64 * 1024;
    const out = await localFetcher({ maxBytes }).fetch({ url: `${base}/big` });
    expect(out).toMatchObject({ status: 200, truncated: true, bytes: maxBytes });
    expect(out.text).toHaveLength(maxBytes);
  });

  it('stops a decompression bomb at maxBytes of decoded output', async () => {
    const maxBytes = 100_000;
    const out = await localFetcher({ maxBytes }).fetch({ url: `${base}/bomb` });
    expect(out).toMatchObject({ truncated: true, bytes: maxBytes });
  });

  it('cuts the text at max_chars', async () => {
    const out = await localFetcher().fetch({ url: `${base}/big`, max_chars: 1000 });
    expect(out.text).toHaveLength(1000);
    expect(out.truncated).toBe(true);
    expect(out.bytes).toBe(BIG_SIZE);
  });

  it('gives up on a body that is still trickling in at the time limit', async () => {
    const started = Date.now();
    const err = await localFetcher({ timeoutMs: 400 }).failure({ url: `${base}/slow-body` });
    expect(err.code).toBe('FETCH_FAILED');
    expect(err.retryable).toBe(true);
    expect(err.details).toMatchObject({ reason: 'timeout', timeout_ms: 400 });
    expect(Date.now() - started).toBeLessThan(3000);
    // The connection is dropped, not left trickling.
    await vi.waitFor(() => expect(dripTimers.size).toBe(0));
  });

  it('gives up on a server that never answers at the time limit', async () => {
    const err = await localFetcher({ timeoutMs: 300 }).failure({ url: `${base}/no-answer` });
    expect(err.code).toBe('FETCH_FAILED');
    expect(err.details.reason).toBe('timeout');
  });

  it('stops promptly when the caller aborts, with the caller’s reason', async () => {
    const controller = new AbortController();
    const reason = new Error('task cancelled');
    setTimeout(() => controller.abort(reason), 150);
    const started = Date.now();
    const err = await localFetcher()
      .fetch({ url: `${base}/slow-body` }, controller.signal)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBe(reason);
    expect(Date.now() - started).toBeLessThan(3000);
    await vi.waitFor(() => expect(dripTimers.size).toBe(0));
  });

  it.each([
    ['/png', 'image/png'],
    ['/pdf', 'application/pdf'],
    ['/octet-binary', 'application/octet-stream'],
    ['/html-with-nul', 'text/html'],
  ])('refuses binary content at %s with a non-retryable FETCH_FAILED', async (path, type) => {
    const err = await localFetcher().failure({ url: `${base}${path}` });
    expect(err.code).toBe('FETCH_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.details).toMatchObject({ reason: 'binary_content', content_type: type });
    expect(err.message).toContain('not text');
  });

  it('reads text served as application/octet-stream', async () => {
    const out = await localFetcher().fetch({ url: `${base}/octet-text` });
    expect(out).toMatchObject({ content_type: 'text/plain', text: '# README\nplain words\n' });
  });

  it('refuses an unknown content encoding', async () => {
    const err = await localFetcher().failure({ url: `${base}/weird-encoding` });
    expect(err.code).toBe('FETCH_FAILED');
    expect(err.details.reason).toBe('content_encoding');
  });

  it('describes itself as read-only with a timeout above its own limit', () => {
    const tool = createFetchUrlTool({ timeoutMs: 1000 });
    expect(tool.effect).toBe('read_only');
    expect(tool.timeoutMs).toBeGreaterThan(1000);
  });
});
