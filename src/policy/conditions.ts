/**
 * The conditions of a policy rule (`when`), read from a call's arguments. Each check returns a fact,
 * the words that say why it holds (`recipients outside example.com (bob@evil.test)`), or null when
 * it does not; the facts become the verdict's reason, which approvers and models read.
 *
 * Where arguments cannot be read (a recipient that is not an address, arguments too deep to walk),
 * the reading errs towards "outside": an unreadable recipient is outside every list, so a rule that
 * asks about outsiders asks.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import type { ArgCondition, Condition, DomainScope, SourceScope } from './language.js';

/** The facts that make every condition given hold, or null when one does not. */
export function conditionFacts(when: Condition, args: unknown): string[] | null {
  const facts: string[] = [];
  for (const fact of checks(when, args)) {
    if (fact === null) return null;
    facts.push(fact);
  }
  return facts;
}

function* checks(when: Condition, args: unknown): Generator<string | null> {
  if (when.recipients) yield recipientsFact(when.recipients, args);
  if (when.url_hosts) yield urlHostsFact(when.url_hosts, args);
  if (when.sql_sources) yield sqlSourcesFact(when.sql_sources, args);
  if (when.arg) yield argFact(when.arg, args);
}

/** The argument fields recipients are read from (the spellings tools and models use for them). */
export const RECIPIENT_FIELDS = ['to', 'cc', 'bcc', 'reply_to', 'replyTo', 'reply-to'] as const;

/** Recipients outside every listed domain (outside) or inside one (inside); an address without `@` is outside all. */
function recipientsFact(scope: DomainScope, args: unknown): string | null {
  const addresses = recipients(args);
  if ('outside' in scope) {
    const domains = scope.outside.map(normalizeDomain);
    const hits = addresses.filter((a) => a.domain === null || !withinDomains(a.domain, domains));
    return hits.length ? `recipients outside ${scope.outside.join(', ')} (${shown(hits.map((a) => a.address))})` : null;
  }
  const domains = scope.inside.map(normalizeDomain);
  const hits = addresses.filter((a) => a.domain !== null && withinDomains(a.domain, domains));
  return hits.length ? `recipients inside ${scope.inside.join(', ')} (${shown(hits.map((a) => a.address))})` : null;
}

interface Recipient {
  /** As written, without a display name. */
  address: string;
  /** Lower case, after the last `@`; null for something that is not an address. */
  domain: string | null;
}

function recipients(args: unknown): Recipient[] {
  const fields = isRecord(args) ? RECIPIENT_FIELDS.map((f) => args[f]) : [];
  return fields.flatMap(entriesOf).map((entry) => {
    if (typeof entry !== 'string') return { address: preview(entry), domain: null };
    const address = bareAddress(entry);
    const at = address.lastIndexOf('@');
    return { address, domain: at < 0 ? null : normalizeDomain(address.slice(at + 1)) };
  });
}

/** A string (a comma- or semicolon-separated list) or a list of them, as separate entries; non-strings as they are. */
function entriesOf(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) => (typeof v === 'string' ? splitAddresses(v) : [v]));
}

/** Splits at `,` and `;` outside quotes and angle brackets: `"Doe, Jo" <jo@x.org>, a@b.com` is two addresses. */
export function splitAddresses(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  let angled = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (ch === '<' && !quoted) angled = true;
    else if (ch === '>' && !quoted) angled = false;
    if ((ch === ',' || ch === ';') && !quoted && !angled) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter(Boolean);
}

/** `Name <a@b.com>` is read as `a@b.com`. */
function bareAddress(entry: string): string {
  return (/<([^>]+)>/.exec(entry)?.[1] ?? entry).trim();
}

/** Lower case, IDNs as punycode (as URLs have them), a leading `@` dropped (`@example.com` is the domain). */
function normalizeDomain(domain: string): string {
  const plain = domain.trim().toLowerCase().replace(/^@/, '');
  return domainToASCII(plain) || plain;
}

/** `a.example.com` is inside `example.com`. */
function withinDomains(domain: string, domains: readonly string[]): boolean {
  return domains.some((d) => domain === d || domain.endsWith(`.${d}`));
}

/** Hosts of the URLs in the arguments outside every listed one, or inside one; no URL: the condition does not hold. */
function urlHostsFact(scope: DomainScope, args: unknown): string | null {
  const found = urlHosts(args);
  if ('outside' in scope) {
    const listed = scope.outside.map(normalizeHost);
    const hits = found.hosts.filter((h) => !listed.some((l) => hostWithin(h, l)));
    // What could not be read might hold any host.
    if (found.truncated) hits.push('arguments too large to read in full');
    return hits.length ? `URL host outside ${scope.outside.join(', ')} (${shown(hits)})` : null;
  }
  const listed = scope.inside.map(normalizeHost);
  const hits = found.hosts.filter((h) => listed.some((l) => hostWithin(h, l)));
  return hits.length ? `URL host inside ${scope.inside.join(', ')} (${shown(hits)})` : null;
}

/** How deep into the arguments, and how many values, URLs are looked for. */
export const URL_SCAN_LIMITS = Object.freeze({ depth: 6, values: 200 });

const URL_PROTOCOLS = new Set(['http:', 'https:', 'ws:', 'wss:']);

/** Hosts (as URLs normalise them) of the string values that are absolute http(s)/ws(s) URLs; `truncated` when values were left unread. */
function urlHosts(args: unknown): { hosts: string[]; truncated: boolean } {
  const hosts = new Set<string>();
  let budget = URL_SCAN_LIMITS.values;
  let truncated = false;
  const visit = (value: unknown, depth: number): void => {
    if (budget <= 0 || depth > URL_SCAN_LIMITS.depth) {
      truncated = true;
      return;
    }
    budget -= 1;
    if (typeof value === 'string') {
      const host = urlHost(value);
      if (host !== null) hosts.add(host);
    } else if (Array.isArray(value)) {
      for (const v of value) visit(v, depth + 1);
    } else if (isRecord(value)) {
      for (const v of Object.values(value)) visit(v, depth + 1);
    }
  };
  visit(args, 0);
  return { hosts: [...hosts], truncated };
}

function urlHost(value: string): string | null {
  if (!/^\s*(?:https?|wss?):/i.test(value)) return null;
  try {
    const url = new URL(value);
    return URL_PROTOCOLS.has(url.protocol) && url.hostname ? url.hostname : null;
  } catch {
    return null;
  }
}

/** A listed host as URLs write hosts: lower case, punycode, IPv6 in brackets, IPv4 in dotted decimal. */
function normalizeHost(entry: string): string {
  const plain = entry.trim().toLowerCase();
  const bracketed = isIP(plain) === 6 ? `[${plain}]` : plain;
  try {
    return new URL(`http://${bracketed}/`).hostname;
  } catch {
    return bracketed;
  }
}

/** A subdomain is inside its domain; an IP literal matches only itself. */
function hostWithin(host: string, listed: string): boolean {
  if (isIpHost(host) || isIpHost(listed)) return host === listed;
  return host === listed || host.endsWith(`.${listed}`);
}

function isIpHost(host: string): boolean {
  return isIP(host.replace(/^\[(.*)\]$/, '$1')) !== 0;
}

/** The SQL source (`args.source`, `files` when absent) in the list, or not in it. */
function sqlSourcesFact(scope: SourceScope, args: unknown): string | null {
  const raw = isRecord(args) ? args.source : undefined;
  const source = raw === undefined || raw === null ? 'files' : String(raw);
  if ('in' in scope) return scope.in.includes(source) ? `SQL source ${source} is one of ${scope.in.join(', ')}` : null;
  return scope.not_in.includes(source) ? null : `SQL source ${source} is not one of ${scope.not_in.join(', ')}`;
}

/**
 * One top-level argument, a value or a list of them. Domains read as AGENTIC_APPROVAL_RULES always
 * read them (a value without `@` is a domain itself: `host` inside `example.com`), and lists in one
 * string are split as recipients are, so `b@evil.test, a@example.com` is not read as one address.
 */
function argFact(c: ArgCondition, args: unknown): string | null {
  const raw = argValues(args, c.name);
  if ('equals' in c) {
    const hit = raw.find((v) => c.equals.some((e) => e === v));
    return hit === undefined ? null : `${c.name} equals ${preview(hit)}`;
  }
  const values = raw.map(String);
  if ('matches' in c) {
    const re = new RegExp(c.matches);
    return values.some((v) => re.test(v)) ? `${c.name} matches ${c.matches}` : null;
  }
  const entries = values.flatMap(splitAddresses);
  if ('outside_domains' in c) {
    const domains = c.outside_domains.map(normalizeDomain);
    const hits = entries.filter((v) => !withinDomains(argDomain(v), domains));
    return hits.length ? `${c.name} outside ${c.outside_domains.join(', ')} (${shown(hits)})` : null;
  }
  const domains = c.inside_domains.map(normalizeDomain);
  const hits = entries.filter((v) => withinDomains(argDomain(v), domains));
  return hits.length ? `${c.name} inside ${c.inside_domains.join(', ')} (${shown(hits)})` : null;
}

function argValues(args: unknown, name: string): unknown[] {
  const v = args && typeof args === 'object' ? (args as Record<string, unknown>)[name] : undefined;
  return Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
}

/** After the last `@` of the bare address, or the whole value when it has none. */
function argDomain(value: string): string {
  const bare = bareAddress(value);
  return normalizeDomain(bare.slice(bare.lastIndexOf('@') + 1));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Values shown in a reason: distinct, the first few, each cut short. */
const SHOWN = Object.freeze({ values: 5, chars: 100 });

function shown(values: readonly string[]): string {
  const distinct = [...new Set(values)];
  const head = distinct.slice(0, SHOWN.values).map((v) => (v.length > SHOWN.chars ? `${v.slice(0, SHOWN.chars)}…` : v));
  const more = distinct.length - head.length;
  return more > 0 ? `${head.join(', ')} and ${more} more` : head.join(', ');
}

function preview(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > SHOWN.chars ? `${text.slice(0, SHOWN.chars)}…` : text;
}
