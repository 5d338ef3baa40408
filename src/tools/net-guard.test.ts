import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { blockedReason, createNetGuard, parseCidr, parseIp } from './net-guard.js';
import type { HostLookup, NetGuardOptions } from './net-guard.js';

function lookupOf(table: Record<string, string[]>): HostLookup {
  return async (hostname) => {
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

async function refusal(options: NetGuardOptions, url: string): Promise<AppError> {
  const err = await createNetGuard(options)
    .resolve(new URL(url))
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('blockedReason', () => {
  it.each([
    ['127.0.0.1', 'a loopback address'],
    ['127.255.255.254', 'a loopback address'],
    ['10.255.0.1', 'a private address'],
    ['172.16.0.1', 'a private address'],
    ['172.31.255.255', 'a private address'],
    ['192.168.100.1', 'a private address'],
    ['169.254.169.254', 'a cloud metadata address'],
    ['100.100.100.200', 'a cloud metadata address'],
    ['169.254.1.1', 'a link-local address'],
    ['100.64.0.1', 'a carrier-grade NAT address'],
    ['100.127.255.255', 'a carrier-grade NAT address'],
    ['0.0.0.0', 'an unspecified ("this network") address'],
    ['0.1.2.3', 'an unspecified ("this network") address'],
    ['192.0.0.170', 'an IETF protocol assignment address'],
    ['192.0.2.5', 'a documentation address'],
    ['198.18.0.1', 'a benchmarking address'],
    ['224.0.0.251', 'a multicast address'],
    ['239.255.255.250', 'a multicast address'],
    ['240.0.0.1', 'a reserved address'],
    ['255.255.255.255', 'a reserved address'],
    ['::', 'an unspecified address'],
    ['::1', 'a loopback address'],
    ['::127.0.0.1', 'an IPv4-compatible address'],
    ['fc00::1', 'a unique-local address'],
    ['fd12:3456::1', 'a unique-local address'],
    ['fd00:ec2::254', 'a cloud metadata address'],
    ['fe80::1', 'a link-local address'],
    ['fe80::1%eth0', 'a link-local address'],
    ['fec0::1', 'a site-local address'],
    ['ff02::1', 'a multicast address'],
    ['2001:db8::1', 'a documentation address'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'an IETF protocol assignment address'],
    ['100::1', 'a discard-only address'],
    ['4000::1', 'a reserved address'],
    ['::ffff:127.0.0.1', 'a loopback address (embedded in an IPv6 address)'],
    ['::ffff:7f00:1', 'a loopback address (embedded in an IPv6 address)'],
    ['::ffff:a9fe:a9fe', 'a cloud metadata address (embedded in an IPv6 address)'],
    ['64:ff9b::10.0.0.1', 'a private address (embedded in an IPv6 address)'],
    ['2002:c0a8:101::1', 'a private address (embedded in an IPv6 address)'],
    ['example.com', 'not an IP address'],
    ['127.1', 'not an IP address'],
  ])('blocks %s as %s', (address, reason) => {
    expect(blockedReason(address)).toBe(reason);
  });

  it.each([
    '93.184.215.14',
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '172.15.255.255',
    '100.128.0.1',
    '192.169.0.1',
    '11.0.0.1',
    '2606:4700:4700::1111',
    '2a00:1450:4001:830::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('lets the public address %s through', (address) => {
    expect(blockedReason(address)).toBeNull();
  });
});

describe('parseIp and parseCidr', () => {
  it('reads IPv4, IPv6, bracketed and embedded forms as numbers', () => {
    expect(parseIp('10.0.0.1')).toEqual({ family: 4, value: 0x0a000001n });
    expect(parseIp('[::1]')).toEqual({ family: 6, value: 1n });
    expect(parseIp('::ffff:1.2.3.4')).toEqual({ family: 6, value: 0xffff01020304n });
    expect(parseIp('2001:db8::8:1')).toEqual({ family: 6, value: (0x20010db8n << 96n) | (0x8n << 16n) | 1n });
    expect(parseIp('1.2.3')).toBeNull();
    expect(parseIp('01.2.3.4')).toBeNull();
    expect(parseIp('host.example')).toBeNull();
  });

  it('reads ranges and single addresses, refusing malformed prefixes', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ family: 4, value: 0x0a000000n, prefix: 8 });
    expect(parseCidr('fd00::/8')).toMatchObject({ family: 6, prefix: 8 });
    expect(parseCidr('1.2.3.4')).toMatchObject({ family: 4, prefix: 32 });
    expect(parseCidr('::1')).toMatchObject({ family: 6, prefix: 128 });
    expect(parseCidr('10.0.0.0/33')).toBeNull();
    expect(parseCidr('10.0.0.0/x')).toBeNull();
    expect(parseCidr('10.0.0.0/-1')).toBeNull();
    expect(parseCidr('10.0.0.0/8/9')).toBeNull();
    expect(parseCidr('wiki.internal')).toBeNull();
  });
});

describe('createNetGuard', () => {
  it('returns every checked address with the bare host name and the effective port', async () => {
    const guard = createNetGuard({ lookup: lookupOf({ 'example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'] }) });
    await expect(guard.resolve(new URL('https://example.com/a'))).resolves.toEqual({
      hostname: 'example.com',
      port: 443,
      addresses: [
        { address: '93.184.215.14', family: 4 },
        { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 },
      ],
    });
    await expect(guard.resolve(new URL('http://[2606:4700:4700::1111]:8080/'))).resolves.toMatchObject({
      hostname: '2606:4700:4700::1111',
      port: 8080,
    });
  });

  it('admits wildcard allow-list entries for subdomains only', async () => {
    const lookup = lookupOf({ 'a.corp.example': ['10.1.1.1'], 'b.a.corp.example': ['10.1.1.2'], 'corp.example': ['10.1.1.3'] });
    const guard = createNetGuard({ allow: ['*.corp.example'], lookup });
    await expect(guard.resolve(new URL('http://a.corp.example/'))).resolves.toMatchObject({ hostname: 'a.corp.example' });
    await expect(guard.resolve(new URL('http://B.A.Corp.Example:9000/'))).resolves.toMatchObject({ port: 9000 });
    expect((await refusal({ allow: ['*.corp.example'], lookup }, 'http://corp.example/')).code).toBe('URL_BLOCKED');
  });

  it('allows only the configured ports for public destinations, any port for allow-listed ones', async () => {
    const lookup = lookupOf({ 'example.com': ['93.184.215.14'], 'svc.internal': ['10.0.0.9'] });
    const options = { allow: ['10.0.0.0/24'], allowedPorts: [443], lookup };
    const err = await refusal(options, 'http://example.com/');
    expect(err.code).toBe('URL_BLOCKED');
    expect(err.details.port).toBe(80);
    await expect(createNetGuard(options).resolve(new URL('https://example.com/'))).resolves.toMatchObject({ port: 443 });
    await expect(createNetGuard(options).resolve(new URL('http://svc.internal:6379/'))).resolves.toMatchObject({ port: 6379 });
  });

  it('matches allow-listed IPv4 ranges against IPv4-mapped addresses too', async () => {
    const guard = createNetGuard({ allow: ['127.0.0.1'] });
    await expect(guard.resolve(new URL('http://[::ffff:127.0.0.1]:3000/'))).resolves.toMatchObject({ port: 3000 });
    expect((await refusal({ allow: ['127.0.0.1'] }, 'http://127.0.0.2/')).code).toBe('URL_BLOCKED');
  });

  it('lets "localhost" through only when it is allow-listed by name', async () => {
    const lookup = lookupOf({ localhost: ['127.0.0.1'] });
    expect((await refusal({ lookup }, 'http://localhost/')).code).toBe('URL_BLOCKED');
    await expect(createNetGuard({ allow: ['localhost'], lookup }).resolve(new URL('http://localhost:5000/'))).resolves.toMatchObject({
      addresses: [{ address: '127.0.0.1', family: 4 }],
    });
  });

  it('turns resolver failures into FETCH_FAILED, retryable unless the name does not exist', async () => {
    const missing = await refusal({ lookup: lookupOf({}) }, 'http://nowhere.example/');
    expect(missing).toMatchObject({ code: 'FETCH_FAILED', retryable: false });
    const flaky: HostLookup = async () => {
      throw Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' });
    };
    expect(await refusal({ lookup: flaky }, 'http://flaky.example/')).toMatchObject({ code: 'FETCH_FAILED', retryable: true });
    const empty: HostLookup = async () => [];
    expect((await refusal({ lookup: empty }, 'http://empty.example/')).code).toBe('FETCH_FAILED');
  });

  it('stops waiting for the resolver when the signal aborts', async () => {
    const never: HostLookup = () => new Promise(() => undefined);
    const controller = new AbortController();
    const reason = new Error('stop');
    const pending = createNetGuard({ lookup: never }).resolve(new URL('http://slow-dns.example/'), controller.signal);
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });
});
