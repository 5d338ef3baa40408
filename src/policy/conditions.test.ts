import { describe, expect, it } from 'vitest';
import { conditionFacts, splitAddresses } from './conditions.js';
import type { Condition } from './language.js';

const outsideMail: Condition = { recipients: { outside: ['example.com'] } };
const insideMail: Condition = { recipients: { inside: ['example.com'] } };

describe('recipients', () => {
  it('holds for an address outside every listed domain, naming it', () => {
    expect(conditionFacts(outsideMail, { to: ['ops@example.com', 'bob@evil.test'] })).toEqual(['recipients outside example.com (bob@evil.test)']);
    expect(conditionFacts(outsideMail, { to: ['ops@example.com'] })).toBeNull();
    expect(conditionFacts({ recipients: { outside: ['example.com', 'acme.org'] } }, { to: ['a@acme.org', 'b@example.com'] })).toBeNull();
  });

  it('counts a subdomain as inside its domain, and compares domains without case', () => {
    expect(conditionFacts(outsideMail, { to: 'a@x.example.com' })).toBeNull();
    expect(conditionFacts(outsideMail, { to: 'A@Mail.EXAMPLE.com' })).toBeNull();
    expect(conditionFacts(outsideMail, { to: 'a@notexample.com' })).toEqual(['recipients outside example.com (a@notexample.com)']);
    expect(conditionFacts({ recipients: { outside: ['@Example.com'] } }, { to: 'a@example.com' })).toBeNull();
    expect(conditionFacts(insideMail, { to: 'a@x.example.com' })).toEqual(['recipients inside example.com (a@x.example.com)']);
  });

  it('reads display-name addresses as their address', () => {
    expect(conditionFacts(outsideMail, { to: 'Bob <bob@evil.test>' })).toEqual(['recipients outside example.com (bob@evil.test)']);
    expect(conditionFacts(outsideMail, { to: ['Ops Team <ops@example.com>'] })).toBeNull();
    // The last @ decides: a display name with an @ in it does not hide the address.
    expect(conditionFacts(outsideMail, { to: '"ops@example.com" <bob@evil.test>' })).toEqual(['recipients outside example.com (bob@evil.test)']);
  });

  it('splits comma- and semicolon-separated strings, in arrays too', () => {
    expect(conditionFacts(outsideMail, { to: 'ops@example.com, bob@evil.test' })).toEqual(['recipients outside example.com (bob@evil.test)']);
    expect(conditionFacts(outsideMail, { to: ['ops@example.com; eve@evil.test'] })).toEqual(['recipients outside example.com (eve@evil.test)']);
    expect(conditionFacts(outsideMail, { to: '"Doe, Jo" <jo@example.com>, Ann <ann@example.com>' })).toBeNull();
  });

  it('reads cc, bcc and every spelling of reply-to', () => {
    for (const field of ['cc', 'bcc', 'reply_to', 'replyTo', 'reply-to']) {
      expect(conditionFacts(outsideMail, { to: 'ops@example.com', [field]: ['x@evil.test'] }), field).toEqual(['recipients outside example.com (x@evil.test)']);
    }
    expect(conditionFacts(outsideMail, { to: 'ops@example.com', from: 'x@evil.test', subject: 'y@evil.test' })).toBeNull();
  });

  it('counts what is not an address as outside every list', () => {
    expect(conditionFacts(outsideMail, { to: 'example.com' })).toEqual(['recipients outside example.com (example.com)']);
    expect(conditionFacts(insideMail, { to: 'example.com' })).toBeNull();
    expect(conditionFacts(outsideMail, { to: [42] })).toEqual(['recipients outside example.com (42)']);
  });

  it('does not hold without recipients', () => {
    expect(conditionFacts(outsideMail, {})).toBeNull();
    expect(conditionFacts(outsideMail, { to: [], cc: '' })).toBeNull();
    expect(conditionFacts(outsideMail, null)).toBeNull();
    expect(conditionFacts(insideMail, { to: [] })).toBeNull();
  });

  it('shows the first few addresses', () => {
    const to = Array.from({ length: 8 }, (_, i) => `u${i}@evil.test`);
    expect(conditionFacts(outsideMail, { to })).toEqual(['recipients outside example.com (u0@evil.test, u1@evil.test, u2@evil.test, u3@evil.test, u4@evil.test and 3 more)']);
  });
});

describe('splitAddresses', () => {
  it('splits at commas and semicolons outside quotes and angle brackets', () => {
    expect(splitAddresses(' a@b.com ,c@d.org; ;"Doe, Jo" <jo@x.org>, <odd,name@y.org>')).toEqual(['a@b.com', 'c@d.org', '"Doe, Jo" <jo@x.org>', '<odd,name@y.org>']);
  });
});

describe('url_hosts', () => {
  const outside: Condition = { url_hosts: { outside: ['acme.com'] } };
  const inside: Condition = { url_hosts: { inside: ['acme.com'] } };

  it('holds for a URL host outside the listed domains, naming it', () => {
    expect(conditionFacts(outside, { url: 'https://evil.test/x' })).toEqual(['URL host outside acme.com (evil.test)']);
    expect(conditionFacts(outside, { url: 'https://www.ACME.com/x' })).toBeNull();
    expect(conditionFacts(inside, { url: 'https://api.acme.com/v1' })).toEqual(['URL host inside acme.com (api.acme.com)']);
    expect(conditionFacts(inside, { url: 'https://acme.com.evil.test/' })).toBeNull();
  });

  it('reads http, https, ws and wss URLs anywhere in the arguments, nested in objects and arrays', () => {
    const args = { request: { targets: [{ href: 'wss://feed.evil.test/socket' }, 'ws://acme.com'], note: 'see https://evil2.test' } };
    expect(conditionFacts(outside, args)).toEqual(['URL host outside acme.com (feed.evil.test)']);
    expect(conditionFacts(outside, { a: ['ftp://evil.test/', 'mailto:x@evil.test', 'evil.test', '//evil.test/x'] })).toBeNull();
    expect(conditionFacts(outside, { list: ['http://acme.com', 'HTTP://Other.TEST:8080/p'] })).toEqual(['URL host outside acme.com (other.test)']);
  });

  it('matches an IP literal only by itself', () => {
    const ips: Condition = { url_hosts: { inside: ['10.0.0.1', '::1', '0.1'] } };
    expect(conditionFacts(ips, { url: 'http://10.0.0.1:8080/' })).toEqual(['URL host inside 10.0.0.1, ::1, 0.1 (10.0.0.1)']);
    expect(conditionFacts(ips, { url: 'http://[::1]/' })).toEqual(['URL host inside 10.0.0.1, ::1, 0.1 ([::1])']);
    // 10.0.0.1 does not end in ".0.1" as a domain would: an address has no subdomains.
    expect(conditionFacts({ url_hosts: { inside: ['0.1'] } }, { url: 'http://10.0.0.1/' })).toBeNull();
    // URLs write IPv4 addresses one way: 2130706433 is 127.0.0.1.
    expect(conditionFacts({ url_hosts: { inside: ['127.0.0.1'] } }, { url: 'http://2130706433/' })).toEqual(['URL host inside 127.0.0.1 (127.0.0.1)']);
    expect(conditionFacts({ url_hosts: { outside: ['acme.com'] } }, { url: 'http://192.168.1.1/' })).toEqual(['URL host outside acme.com (192.168.1.1)']);
  });

  it('does not hold when the arguments hold no URL', () => {
    expect(conditionFacts(outside, { query: 'acme.com pricing' })).toBeNull();
    expect(conditionFacts(inside, {})).toBeNull();
    expect(conditionFacts(outside, null)).toBeNull();
  });

  it('counts arguments too large to read in full as outside', () => {
    let deep: unknown = 'https://acme.com/';
    for (let i = 0; i < 8; i++) deep = { next: deep };
    expect(conditionFacts(outside, deep)).toEqual(['URL host outside acme.com (arguments too large to read in full)']);
    expect(conditionFacts(inside, deep)).toBeNull();
    const wide = { list: [...Array.from({ length: 300 }, () => 'x'), 'https://acme.com/'] };
    expect(conditionFacts(outside, wide)).toEqual(['URL host outside acme.com (arguments too large to read in full)']);
    expect(conditionFacts(outside, { a: { b: { c: { d: { e: { f: 'https://acme.com/' } } } } } })).toBeNull();
  });
});

describe('sql_sources', () => {
  it('reads args.source, files when absent', () => {
    expect(conditionFacts({ sql_sources: { in: ['files'] } }, { query: 'select 1' })).toEqual(['SQL source files is one of files']);
    expect(conditionFacts({ sql_sources: { in: ['files'] } }, { source: 'warehouse' })).toBeNull();
    expect(conditionFacts({ sql_sources: { not_in: ['files'] } }, { source: 'warehouse' })).toEqual(['SQL source warehouse is not one of files']);
    expect(conditionFacts({ sql_sources: { not_in: ['files', 'warehouse'] } }, {})).toBeNull();
  });
});

describe('arg', () => {
  it('outside_domains and inside_domains read a value without @ as a domain, as AGENTIC_APPROVAL_RULES did', () => {
    const outside: Condition = { arg: { name: 'to', outside_domains: ['example.com'] } };
    expect(conditionFacts(outside, { to: ['ops@example.com', 'someone@elsewhere.org'] })).toEqual(['to outside example.com (someone@elsewhere.org)']);
    expect(conditionFacts(outside, { to: 'Ann <ann@sub.example.com>' })).toBeNull();
    expect(conditionFacts({ arg: { name: 'host', inside_domains: ['example.com'] } }, { host: 'api.example.com' })).toEqual(['host inside example.com (api.example.com)']);
    expect(conditionFacts(outside, {})).toBeNull();
  });

  it('splits lists in one string, so the last address does not speak for all', () => {
    expect(conditionFacts({ arg: { name: 'to', outside_domains: ['example.com'] } }, { to: 'b@evil.test, a@example.com' })).toEqual(['to outside example.com (b@evil.test)']);
  });

  it('matches: a regular expression on any value', () => {
    const c: Condition = { arg: { name: 'subject', matches: '^\\[secret\\]' } };
    expect(conditionFacts(c, { subject: '[secret] plans' })).toEqual(['subject matches ^\\[secret\\]']);
    expect(conditionFacts(c, { subject: ['hello', '[secret] x'] })).toEqual(['subject matches ^\\[secret\\]']);
    expect(conditionFacts(c, { subject: 'no [secret]' })).toBeNull();
  });

  it('equals: one of the values, with its type', () => {
    const c: Condition = { arg: { name: 'mode', equals: ['drop', 5, true] } };
    expect(conditionFacts(c, { mode: 'drop' })).toEqual(['mode equals "drop"']);
    expect(conditionFacts(c, { mode: ['keep', 5] })).toEqual(['mode equals 5']);
    expect(conditionFacts(c, { mode: true })).toEqual(['mode equals true']);
    expect(conditionFacts(c, { mode: '5' })).toBeNull();
    expect(conditionFacts(c, { mode: 'Drop' })).toBeNull();
  });
});

describe('several conditions', () => {
  it('hold only together, and say so together', () => {
    const c: Condition = { recipients: { outside: ['example.com'] }, arg: { name: 'subject', equals: ['pay'] } };
    expect(conditionFacts(c, { to: 'x@evil.test', subject: 'pay' })).toEqual(['recipients outside example.com (x@evil.test)', 'subject equals "pay"']);
    expect(conditionFacts(c, { to: 'x@evil.test', subject: 'hi' })).toBeNull();
    expect(conditionFacts(c, { to: 'x@example.com', subject: 'pay' })).toBeNull();
  });
});
