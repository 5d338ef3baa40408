/**
 * The network guard behind `fetch_url`: decides whether the service may open a connection to a URL,
 * so that a model (or a page it reads) cannot make the service reach its own loopback, the private
 * network, or a cloud metadata endpoint (server-side request forgery).
 *
 * The guard works on addresses, not names. `resolve` looks the host name up once, checks every
 * address the name resolves to, and returns those checked addresses; the caller connects to one of
 * them and to nothing else, so a name that resolves differently a moment later (DNS rebinding)
 * cannot slip past. IP literals in any spelling the WHATWG URL parser accepts (`2130706433`,
 * `0x7f.1`, `0177.0.0.1`, `[::ffff:127.0.0.1]`) are normalised by `new URL` before they get here.
 *
 * Blocked: everything in the IANA special-purpose registries that is not globally reachable
 * (loopback, RFC 1918 private, link-local and the metadata address 169.254.169.254, carrier-grade
 * NAT, unspecified, multicast, reserved, documentation, benchmarking, IPv6 unique-local, site-local
 * and every IPv6 address outside 2000::/3). IPv6 forms that embed an IPv4 address (IPv4-mapped,
 * NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by the IPv4 address they embed.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { AppError } from '../errors.js';

/** One address a host name resolves to, as `dns.lookup(name, { all: true })` returns it. */
export interface ResolvedAddress {
  address: string;
  /** 4 or 6. */
  family: number;
}

/** Resolves a host name to all its addresses. The default is `dns.lookup(name, { all: true, verbatim: true })`. */
export type HostLookup = (hostname: string) => Promise<ResolvedAddress[]>;

export interface NetGuardOptions {
  /**
   * Destinations that may be reached even though their addresses are not public: host names
   * (`wiki.internal`, or `*.corp.example` for any subdomain), IP addresses (`10.0.0.5`) and CIDR
   * ranges (`10.20.0.0/16`, `fd00::/8`). An allow-listed host name may resolve to any address; an
   * allow-listed address or range admits exactly those addresses, whatever name led there.
   * Allow-listed destinations may use any port.
   * @defaultValue []
   */
  allow?: readonly string[];
  /**
   * Ports that public destinations may use.
   * @defaultValue [80, 443, 8080, 8443]
   */
  allowedPorts?: readonly number[];
  /** Name resolution; tests replace it to simulate hostile DNS. @defaultValue dns.lookup (all addresses) */
  lookup?: HostLookup;
}

/** The destination `resolve` vouches for: connect to one of `addresses`, never re-resolve `hostname`. */
export interface CheckedTarget {
  /** The URL host name without IPv6 brackets; send it as Host and as the TLS server name. */
  hostname: string;
  port: number;
  /** Every address the name resolved to, each one checked. */
  addresses: ResolvedAddress[];
}

export interface NetGuard {
  /** Checks what can be checked without DNS: scheme, credentials, names that always mean this machine. */
  checkUrl(url: URL): void;
  /** Checks the URL, resolves its host once and checks every address and the port; throws URL_BLOCKED. */
  resolve(url: URL, signal?: AbortSignal): Promise<CheckedTarget>;
}

export const DEFAULT_ALLOWED_PORTS: readonly number[] = Object.freeze([80, 443, 8080, 8443]);

// ---------------------------------------------------------------------------------------------
// Addresses and ranges

/** An IP address as a number: 32 bits for IPv4, 128 bits for IPv6. */
export interface IpAddress {
  family: 4 | 6;
  value: bigint;
}

interface Cidr extends IpAddress {
  prefix: number;
}

const WIDTH = { 4: 32n, 6: 128n } as const;

function parseIPv4(text: string): bigint | null {
  if (isIP(text) !== 4) return null;
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function parseIPv6(text: string): bigint | null {
  let s = text.replace(/%.*$/, '');
  if (isIP(s) !== 6) return null;
  if (s.includes('.')) {
    const cut = s.lastIndexOf(':');
    const v4 = parseIPv4(s.slice(cut + 1));
    if (v4 === null) return null;
    s = `${s.slice(0, cut + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [left = '', right] = s.split('::');
  const head = left ? left.split(':') : [];
  const tail = right ? right.split(':') : [];
  const groups = right === undefined ? head : [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
}

/** Parses a canonical IPv4 or IPv6 address (brackets allowed), or returns null. */
export function parseIp(text: string): IpAddress | null {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const v4 = parseIPv4(bare);
  if (v4 !== null) return { family: 4, value: v4 };
  const v6 = parseIPv6(bare);
  return v6 === null ? null : { family: 6, value: v6 };
}

/** Parses `addr/prefix` or a bare address (a single-address range), or returns null. */
export function parseCidr(text: string): Cidr | null {
  const [addr = '', prefixText, extra] = text.trim().split('/');
  if (extra !== undefined) return null;
  const ip = parseIp(addr);
  if (!ip) return null;
  const width = Number(WIDTH[ip.family]);
  const prefix = prefixText === undefined ? width : Number(prefixText);
  if (!/^\d+$/.test(prefixText ?? '0') || prefix > width) return null;
  return { ...ip, prefix };
}

function inRange(ip: IpAddress, range: Cidr): boolean {
  if (ip.family !== range.family) return false;
  const shift = WIDTH[ip.family] - BigInt(range.prefix);
  return ip.value >> shift === range.value >> shift;
}

function cidr(text: string): Cidr {
  const range = parseCidr(text);
  if (!range) throw new Error(`bad built-in range ${text}`);
  return range;
}

type RangeTable = ReadonlyArray<readonly [Cidr, string]>;

function rangeTable(entries: Array<[range: string, reason: string]>): RangeTable {
  return entries.map(([range, reason]) => [cidr(range), reason] as const);
}

/** Special-purpose IPv4 ranges, most specific first so that the reason names the narrowest range. */
const IPV4_BLOCKED = rangeTable([
  ['169.254.169.254/32', 'a cloud metadata address'],
  ['100.100.100.200/32', 'a cloud metadata address'],
  ['0.0.0.0/8', 'an unspecified ("this network") address'],
  ['10.0.0.0/8', 'a private address'],
  ['100.64.0.0/10', 'a carrier-grade NAT address'],
  ['127.0.0.0/8', 'a loopback address'],
  ['169.254.0.0/16', 'a link-local address'],
  ['172.16.0.0/12', 'a private address'],
  ['192.0.0.0/24', 'an IETF protocol assignment address'],
  ['192.0.2.0/24', 'a documentation address'],
  ['192.88.99.0/24', 'a 6to4 relay anycast address'],
  ['192.168.0.0/16', 'a private address'],
  ['198.18.0.0/15', 'a benchmarking address'],
  ['198.51.100.0/24', 'a documentation address'],
  ['203.0.113.0/24', 'a documentation address'],
  ['224.0.0.0/4', 'a multicast address'],
  ['240.0.0.0/4', 'a reserved address'],
]);

const IPV6_BLOCKED = rangeTable([
  ['fd00:ec2::254/128', 'a cloud metadata address'],
  ['::/128', 'an unspecified address'],
  ['::1/128', 'a loopback address'],
  ['::/96', 'an IPv4-compatible address'],
  ['64:ff9b:1::/48', 'a local-use NAT64 address'],
  ['100::/64', 'a discard-only address'],
  ['2001:db8::/32', 'a documentation address'],
  ['2001::/23', 'an IETF protocol assignment address'],
  ['3fff::/20', 'a documentation address'],
  ['5f00::/16', 'a segment-routing address'],
  ['fc00::/7', 'a unique-local address'],
  ['fec0::/10', 'a site-local address'],
  ['fe80::/10', 'a link-local address'],
  ['ff00::/8', 'a multicast address'],
]);

const GLOBAL_UNICAST = cidr('2000::/3');
const IPV4_MAPPED = cidr('::ffff:0:0/96');
const NAT64 = cidr('64:ff9b::/96');
const SIX_TO_FOUR = cidr('2002::/16');

/** The IPv4 address an IPv6 address stands for (IPv4-mapped, NAT64, 6to4), or null. */
function embeddedIPv4(ip: IpAddress): IpAddress | null {
  if (ip.family !== 6) return null;
  if (inRange(ip, IPV4_MAPPED) || inRange(ip, NAT64)) return { family: 4, value: ip.value & 0xffffffffn };
  if (inRange(ip, SIX_TO_FOUR)) return { family: 4, value: (ip.value >> 80n) & 0xffffffffn };
  return null;
}

function blockedReasonOf(ip: IpAddress): string | null {
  const inner = embeddedIPv4(ip);
  if (inner) {
    const reason = blockedReasonOf(inner);
    return reason && `${reason} (embedded in an IPv6 address)`;
  }
  const table = ip.family === 4 ? IPV4_BLOCKED : IPV6_BLOCKED;
  const hit = table.find(([range]) => inRange(ip, range));
  if (hit) return hit[1];
  if (ip.family === 6 && !inRange(ip, GLOBAL_UNICAST)) return 'a reserved address';
  return null;
}

/**
 * Why an address must not be reached (for example "a loopback address"), or null when it is a
 * public address. Anything that does not parse as an IP address is refused.
 */
export function blockedReason(address: string): string | null {
  const ip = parseIp(address);
  return ip ? blockedReasonOf(ip) : 'not an IP address';
}

// ---------------------------------------------------------------------------------------------
// The allow-list

interface AllowList {
  names: Set<string>;
  suffixes: string[];
  ranges: Cidr[];
}

const HOST_NAME = /^(?:\*\.)?[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*$/;

function normaliseName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function parseAllowList(entries: readonly string[]): AllowList {
  const list: AllowList = { names: new Set(), suffixes: [], ranges: [] };
  for (const raw of entries) {
    const entry = raw.trim();
    if (!entry) continue;
    const range = parseCidr(entry);
    if (range) {
      list.ranges.push(range);
      continue;
    }
    const name = normaliseName(entry);
    if (!HOST_NAME.test(name)) {
      throw new AppError('CONFIG_INVALID', `fetch_url allow-list entry "${raw}" is neither a host name, an IP address nor a CIDR range`);
    }
    if (name.startsWith('*.')) list.suffixes.push(name.slice(1));
    else list.names.add(name);
  }
  return list;
}

/** IPv4-mapped IPv6 addresses are compared as the IPv4 address they carry. */
function unmapped(ip: IpAddress): IpAddress {
  return ip.family === 6 && inRange(ip, IPV4_MAPPED) ? { family: 4, value: ip.value & 0xffffffffn } : ip;
}

function nameAllowed(list: AllowList, hostname: string): boolean {
  const name = normaliseName(hostname);
  return list.names.has(name) || list.suffixes.some((suffix) => name.endsWith(suffix));
}

function addressAllowed(list: AllowList, address: string): boolean {
  const ip = parseIp(address);
  if (!ip) return false;
  const plain = unmapped(ip);
  return list.ranges.some((range) => inRange(ip, range) || inRange(plain, range));
}

// ---------------------------------------------------------------------------------------------
// The guard

function blocked(message: string, details: Record<string, unknown>): AppError {
  return new AppError('URL_BLOCKED', message, { details: { tool: 'fetch_url', ...details } });
}

const defaultLookup: HostLookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** Names that mean this machine whatever DNS says (RFC 6761). */
function isLocalhostName(hostname: string): boolean {
  const name = normaliseName(hostname);
  return name === 'localhost' || name.endsWith('.localhost');
}

function defaultPort(url: URL): number {
  return url.protocol === 'https:' ? 443 : 80;
}

/** Host name of a URL without the brackets around an IPv6 literal. */
export function bareHostname(url: URL): string {
  const host = url.hostname;
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

async function lookupAll(lookup: HostLookup, hostname: string, signal?: AbortSignal): Promise<ResolvedAddress[]> {
  signal?.throwIfAborted();
  const pending = lookup(hostname);
  if (!signal) return pending;
  pending.catch(() => undefined);
  return new Promise<ResolvedAddress[]>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function lookupFailed(hostname: string, err: unknown): AppError {
  const code = (err as { code?: unknown }).code;
  const permanent = code === 'ENOTFOUND' || code === 'ENODATA';
  return new AppError('FETCH_FAILED', `Could not resolve host "${hostname}"${typeof code === 'string' ? ` (${code})` : ''}`, {
    details: { tool: 'fetch_url', host: hostname, reason: 'dns' },
    retryable: !permanent,
    cause: err,
  });
}

/** Creates the guard. Throws CONFIG_INVALID for an allow-list entry it cannot read. */
export function createNetGuard(options: NetGuardOptions = {}): NetGuard {
  const allow = parseAllowList(options.allow ?? []);
  const ports = new Set(options.allowedPorts ?? DEFAULT_ALLOWED_PORTS);
  const lookup = options.lookup ?? defaultLookup;

  function checkUrl(url: URL): void {
    const where = { url: url.href };
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw blocked(`Only http and https URLs can be fetched, not ${url.protocol.replace(/:$/, '')}`, where);
    }
    // "http://trusted.example@10.0.0.1/" is a classic disguise, and credentials must not travel to a third party.
    if (url.username || url.password) throw blocked('URLs with a user name or password cannot be fetched', where);
    const hostname = bareHostname(url);
    if (!hostname) throw blocked('The URL has no host', where);
    if (isLocalhostName(hostname) && !nameAllowed(allow, hostname)) {
      throw blocked(`"${hostname}" always means this machine and cannot be fetched`, { ...where, host: hostname });
    }
  }

  async function resolve(url: URL, signal?: AbortSignal): Promise<CheckedTarget> {
    checkUrl(url);
    const hostname = bareHostname(url);
    const port = url.port ? Number(url.port) : defaultPort(url);
    const literal = parseIp(hostname);
    let addresses: ResolvedAddress[];
    if (literal) {
      addresses = [{ address: hostname, family: literal.family }];
    } else {
      try {
        addresses = await lookupAll(lookup, hostname, signal);
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        throw lookupFailed(hostname, err);
      }
      if (addresses.length === 0) throw lookupFailed(hostname, new Error('no addresses'));
    }
    const trustedName = !literal && nameAllowed(allow, hostname);
    let allAllowListed = trustedName;
    if (!trustedName) {
      allAllowListed = true;
      for (const { address } of addresses) {
        if (addressAllowed(allow, address)) continue;
        allAllowListed = false;
        const reason = blockedReason(address);
        if (reason) {
          const via = literal ? '' : ` (${hostname} resolves to ${address})`;
          throw blocked(`Refusing to fetch ${url.href}: ${address} is ${reason}${via}`, {
            url: url.href,
            host: hostname,
            address,
            reason,
          });
        }
      }
    }
    if (!allAllowListed && !ports.has(port)) {
      throw blocked(`Port ${port} is not allowed; allowed ports: ${[...ports].join(', ')}`, { url: url.href, port });
    }
    return { hostname, port, addresses };
  }

  return { checkUrl, resolve };
}
