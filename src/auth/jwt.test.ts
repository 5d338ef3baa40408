/** JWT verification against a local JWKS server and static keys; no network beyond 127.0.0.1. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair, importPKCS8, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AppError } from '../errors.js';
import { createJwtVerifier, type JwtOptions } from './jwt.js';

const ISSUER = 'https://login.example.test/';
const AUDIENCE = 'agentic';

interface KeyPair {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

async function keyPair(alg: string, kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** A JWKS endpoint whose keys and behaviour a test can change, counting the requests it gets. */
class JwksServer {
  keys: JWK[] = [];
  mode: 'ok' | 'status500' | 'badJson' | 'hang' = 'ok';
  requests = 0;
  private server: Server | null = null;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.requests += 1;
      if (this.mode === 'hang') return;
      if (this.mode === 'status500') return void res.writeHead(500).end('down');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(this.mode === 'badJson' ? '{"keys": [' : JSON.stringify({ keys: this.keys }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/.well-known/jwks.json`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const claims = (overrides: JWTPayload = {}): JWTPayload => ({ sub: 'user-1', tenant: 'acme', role: ['member'], name: 'Ada', ...overrides });

/** Signs `payload` (iss, aud, iat and a 1 h exp added unless overridden) with `key`. */
async function sign(key: KeyPair, payload: JWTPayload = claims(), header: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 3600, ...payload })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header })
    .sign(key.privateKey);
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

function options(overrides: Partial<JwtOptions> = {}): JwtOptions {
  return {
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
    tenantClaim: 'tenant',
    roleClaim: 'role',
    ...overrides,
  };
}

/** Awaits a rejection and checks it is an AppError with this code and `details.reason`. */
async function expectError(promise: Promise<unknown>, code: string, reason?: string): Promise<AppError> {
  const err = await promise.then(
    () => {
      throw new Error(`expected ${code}${reason ? ` (${reason})` : ''}, but it resolved`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  const appError = err as AppError;
  expect({ code: appError.code, reason: appError.details.reason }).toEqual({ code, reason });
  return appError;
}

let server: JwksServer;
let rsa: KeyPair;
let ec: KeyPair;

beforeAll(async () => {
  rsa = await keyPair('RS256', 'rsa-1');
  ec = await keyPair('ES256', 'ec-1');
  server = new JwksServer();
  await server.start();
  server.keys = [rsa.jwk, ec.jwk];
});

afterAll(async () => {
  await server.stop();
});

afterEach(() => {
  server.mode = 'ok';
  server.keys = [rsa.jwk, ec.jwk];
  vi.useRealTimers();
});

describe('createJwtVerifier with a JWKS URL', () => {
  it('accepts a valid RS256 token and reads the identity, roles from an array', async () => {
    const verifier = await createJwtVerifier(options({ jwksUrl: server.url }));
    const token = await sign(rsa, claims({ role: ['member', 'approver'], email: 'ada@example.test' }));
    const identity = await verifier.verify(token);
    expect(identity).toMatchObject({ subject: 'user-1', tenantId: 'acme', roles: ['member', 'approver'], name: 'Ada' });
    expect(identity.expiresAt).toBeInstanceOf(Date);
    expect(Math.abs(identity.expiresAt!.getTime() - (Date.now() + 3600_000))).toBeLessThan(120_000);
  });

  it('accepts a valid ES256 token, roles from a comma-separated string, name falling back to email', async () => {
    const verifier = await createJwtVerifier(options({ jwksUrl: server.url }));
    const token = await sign(ec, { sub: 'svc-9', tenant: 'beta.team_2', role: 'approver,member', email: 'svc@example.test' });
    const identity = await verifier.verify(token);
    expect(identity).toMatchObject({ subject: 'svc-9', tenantId: 'beta.team_2', roles: ['member', 'approver'], name: 'svc@example.test' });
  });

  it('takes preferred_username when there is no name or email, cuts names to 200 characters, and gives null for none', async () => {
    const verifier = await createJwtVerifier(options({ jwksUrl: server.url }));
    const base = { sub: 'u', tenant: 'acme', role: 'viewer' };
    expect((await verifier.verify(await sign(rsa, { ...base, preferred_username: 'ada' }))).name).toBe('ada');
    expect((await verifier.verify(await sign(rsa, { ...base, name: 'x'.repeat(500) }))).name).toHaveLength(200);
    expect((await verifier.verify(await sign(rsa, { ...base, name: 42 }))).name).toBeNull();
  });

  it('refuses the wrong issuer', async () => {
    const verifier = await createJwtVerifier(options({ jwksUrl: server.url }));
    await expectError(verifier.verify(await sign(rsa, claims({ iss: 'https://evil.example.test/' }))), 'UNAUTHENTICATED', 'issuer');
  });

  it('refuses the wrong audience', async () => {
    const verifier = await createJwtVerifier(options({ jwksUrl: server.url }));
    await expectError(verifier.verify(await sign(rsa, claims({ aud: 'someone-else' }))), 'UNAUTHENTICATED', 'audience');
  });

  it('refuses an expired token', async () => {
    const verifier = await createJwtVerifier(options({ jwksUrl: server.url }));
    const now = Math.floor(Date.now() / 1000);
    await expectError(verifier.verify(await sign(rsa, claims({ iat: now - 7200, exp: now - 600 }))), 'UNAUTHENTICATED', 'expired');
  });

  it('refuses a token whose nbf is in the future', async () => {
    const verifier = await createJwtVerifier(options({ jwksUrl: server.url }));
    const now = Math.floor(Date.now() / 1000);
    await expectError(verifier.verify(await sign(rsa, claims({ nbf: now + 600 }))), 'UNAUTHENTICATED', 'not_yet_valid');
  });

  it('refuses a token without exp', async () => {
    const verifier = await createJwtVerifier(options({ jwksUrl: server.url }));
    const token = await new SignJWT(claims({ iss: ISSUER, aud: AUDIENCE })).setProtectedHeader({ alg: 'RS256', kid: rsa.kid }).sign(rsa.privateKey);
    await expectError(verifier.verify(token), 'UNAUTHENTICATED', 'claims');
  });

  it('refuses a bad signature (same kid, another key)', async () => {
    const verifier = await createJwtVerifier(options({ jwksUrl: server.url }));
    const impostor = await keyPair('RS256', rsa.kid);
    await expectError(verifier.verify(await sign(impostor)), 'UNAUTHENTICATED', 'signature');
  });

  it('refuses an unsigned alg:none token', async () => {
    const verifier = await createJwtVerifier(options({ jwksUrl: server.url }));
    const now = Math.floor(Date.now() / 1000);
    const token = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ ...claims(), iss: ISSUER, aud: AUDIENCE, exp: now + 3600 })}.`;
    await expectError(verifier.verify(token), 'UNAUTHENTICATED', 'algorithm');
  });

  it('refuses HS256 signed with the RSA public key PEM as the secret (algorithm confusion), for a JWKS and a static key', async () => {
    const pem = await exportSPKI(rsa.publicKey);
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ ...claims(), iss: ISSUER, aud: AUDIENCE, exp: now + 3600 })
      .setProtectedHeader({ alg: 'HS256', kid: rsa.kid, typ: 'JWT' })
      .sign(new TextEncoder().encode(pem));
    const fromJwks = await createJwtVerifier(options({ jwksUrl: server.url }));
    await expectError(fromJwks.verify(token), 'UNAUTHENTICATED', 'algorithm');
    const fromPem = await createJwtVerifier(options({ publicKey: pem }));
    await expectError(fromPem.verify(token), 'UNAUTHENTICATED', 'algorithm');
  });

  it('refuses an algorithm outside the allow-list', async () => {
    const verifier = await createJwtVerifier(options({ jwksUrl: server.url, algorithms: ['ES256'] }));
    await expectError(verifier.verify(await sign(rsa)), 'UNAUTHENTICATED', 'algorithm');
    await expect(verifier.verify(await sign(ec))).resolves.toMatchObject({ subject: 'user-1' });
  });

  it('refuses a missing tenant claim, tenant "*", a malformed tenant, an unknown role, no roles, and a missing sub', async () => {
    const verifier = await createJwtVerifier(options({ jwksUrl: server.url }));
    const { tenant: _tenant, ...noTenant } = claims();
    const { sub: _sub, ...noSub } = claims();
    const { role: _role, ...noRole } = claims();
    await expectError(verifier.verify(await sign(rsa, noTenant)), 'UNAUTHENTICATED', 'claims');
    await expectError(verifier.verify(await sign(rsa, claims({ tenant: '*' }))), 'UNAUTHENTICATED', 'claims');
    await expectError(verifier.verify(await sign(rsa, claims({ tenant: 'has space' }))), 'UNAUTHENTICATED', 'claims');
    await expectError(verifier.verify(await sign(rsa, claims({ tenant: 7 }))), 'UNAUTHENTICATED', 'claims');
    const unknownRole = await expectError(verifier.verify(await sign(rsa, claims({ role: ['member', 'superuser'] }))), 'UNAUTHENTICATED', 'claims');
    expect(unknownRole.message).toContain('superuser');
    await expectError(verifier.verify(await sign(rsa, claims({ role: '' }))), 'UNAUTHENTICATED', 'claims');
    await expectError(verifier.verify(await sign(rsa, claims({ role: { admin: true } }))), 'UNAUTHENTICATED', 'claims');
    await expectError(verifier.verify(await sign(rsa, noRole)), 'UNAUTHENTICATED', 'claims');
    await expectError(verifier.verify(await sign(rsa, noSub)), 'UNAUTHENTICATED', 'claims');
    await expectError(verifier.verify(await sign(rsa, claims({ sub: '' }))), 'UNAUTHENTICATED', 'claims');
  });

  it('refuses garbage without quoting it', async () => {
    const verifier = await createJwtVerifier(options({ jwksUrl: server.url }));
    const err = await expectError(verifier.verify('not-a-jwt-secret-garbage'), 'UNAUTHENTICATED', 'malformed');
    expect(err.message).not.toContain('garbage');
    await expectError(verifier.verify('a.b.c'), 'UNAUTHENTICATED', 'malformed');
    await expectError(verifier.verify(''), 'UNAUTHENTICATED', 'malformed');
    const token = await sign(rsa);
    const [header, payload, signature] = token.split('.');
    await expectError(verifier.verify(`${Buffer.from('{not json').toString('base64url')}.${payload}.${signature}`), 'UNAUTHENTICATED', 'malformed');
    // The signature is checked before the payload is read, so a mangled payload is a signature failure.
    await expectError(verifier.verify(`${header}.%%%.${signature}`), 'UNAUTHENTICATED', 'signature');
  });

  it('fetches the JWKS once for many tokens with a known kid', async () => {
    const before = server.requests;
    const verifier = await createJwtVerifier(options({ jwksUrl: server.url }));
    expect(server.requests).toBe(before); // nothing is fetched until a token arrives
    const tokens = await Promise.all([1, 2, 3, 4, 5].map((n) => sign(n % 2 ? rsa : ec, claims({ sub: `user-${n}` }))));
    const identities = await Promise.all(tokens.map((t) => verifier.verify(t)));
    expect(identities.map((i) => i.subject)).toEqual(['user-1', 'user-2', 'user-3', 'user-4', 'user-5']);
    for (const t of tokens) await verifier.verify(t);
    expect(server.requests - before).toBe(1);
  });

  it('follows a key rotation: an unknown kid refetches the JWKS once the 30 s cooldown since the last fetch has passed', async () => {
    const verifier = await createJwtVerifier(options({ jwksUrl: server.url }));
    const before = server.requests;
    await verifier.verify(await sign(rsa));
    expect(server.requests - before).toBe(1);

    const next = await keyPair('RS256', 'rsa-2');
    server.keys = [next.jwk];
    // Within jose's cooldown an unknown kid is refused without asking the server again.
    await expectError(verifier.verify(await sign(next)), 'UNAUTHENTICATED', 'unknown_key');
    expect(server.requests - before).toBe(1);

    // Only Date is faked, so the HTTP request and its timeout run on real timers.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 31_000);
    const identity = await verifier.verify(await sign(next, claims({ sub: 'rotated' })));
    expect(identity.subject).toBe('rotated');
    expect(server.requests - before).toBe(2);
    // The old key is gone from the JWKS, and the refetch that just happened starts a new cooldown.
    await expectError(verifier.verify(await sign(rsa)), 'UNAUTHENTICATED', 'unknown_key');
    expect(server.requests - before).toBe(2);
  });

  it('tries each key when several match a token without a kid', async () => {
    const other = await keyPair('RS256', 'unused');
    const { kid: _a, ...first } = other.jwk;
    const { kid: _b, ...second } = rsa.jwk;
    server.keys = [first, second];
    const verifier = await createJwtVerifier(options({ jwksUrl: server.url }));
    await expect(verifier.verify(await sign(rsa, claims(), { kid: undefined }))).resolves.toMatchObject({ subject: 'user-1' });
    const stranger = await keyPair('RS256', 'x');
    await expectError(verifier.verify(await sign(stranger, claims(), { kid: undefined })), 'UNAUTHENTICATED', 'signature');
  });

  it('reports AUTH_UNAVAILABLE when the JWKS answers 500, bad JSON, or not in time', async () => {
    const token = await sign(rsa);
    server.mode = 'status500';
    await expectError((await createJwtVerifier(options({ jwksUrl: server.url }))).verify(token), 'AUTH_UNAVAILABLE', 'jwks_unreachable');
    server.mode = 'badJson';
    await expectError((await createJwtVerifier(options({ jwksUrl: server.url }))).verify(token), 'AUTH_UNAVAILABLE', 'jwks_unreachable');
    server.mode = 'hang';
    const slow = await createJwtVerifier(options({ jwksUrl: server.url, jwksTimeoutMs: 300 }));
    const err = await expectError(slow.verify(token), 'AUTH_UNAVAILABLE', 'jwks_unreachable');
    expect(err.status).toBe(503);
  });

  it('reports AUTH_UNAVAILABLE when the JWKS server is down, while keys already cached keep working', async () => {
    const down = new JwksServer();
    await down.start();
    down.keys = [rsa.jwk];
    const warm = await createJwtVerifier(options({ jwksUrl: down.url }));
    await warm.verify(await sign(rsa));
    await down.stop();
    const cold = await createJwtVerifier(options({ jwksUrl: down.url }));
    const err = await expectError(cold.verify(await sign(rsa)), 'AUTH_UNAVAILABLE', 'jwks_unreachable');
    expect(err.status).toBe(503);
    await expect(warm.verify(await sign(rsa))).resolves.toMatchObject({ subject: 'user-1' });
  });
});

describe('createJwtVerifier with a static public key', () => {
  it('verifies with a PEM (SPKI) key, for every allowed algorithm the key suits', async () => {
    const pem = await exportSPKI(rsa.publicKey);
    const verifier = await createJwtVerifier(options({ publicKey: pem }));
    await expect(verifier.verify(await sign(rsa))).resolves.toMatchObject({ subject: 'user-1', tenantId: 'acme', roles: ['member'] });
    // The same RSA key signing with PS256 (also allowed) verifies too.
    const ps: KeyPair = { ...rsa, alg: 'PS256', privateKey: await importPKCS8(await exportPKCS8(rsa.privateKey), 'PS256') };
    await expect(verifier.verify(await sign(ps, claims({ sub: 'pss' })))).resolves.toMatchObject({ subject: 'pss' });
    // An allowed algorithm the key cannot do (ES256 with an RSA key) is refused.
    await expectError(verifier.verify(await sign(ec)), 'UNAUTHENTICATED', 'algorithm');
  });

  it('verifies with a PEM whose newlines arrive as literal \\n, and with an Ed25519 key', async () => {
    const pem = (await exportSPKI(rsa.publicKey)).replace(/\n/g, '\\n');
    await expect((await createJwtVerifier(options({ publicKey: pem }))).verify(await sign(rsa))).resolves.toMatchObject({ subject: 'user-1' });
    const ed = await keyPair('EdDSA', 'ed-1');
    const verifier = await createJwtVerifier(options({ publicKey: await exportSPKI(ed.publicKey) }));
    await expect(verifier.verify(await sign(ed))).resolves.toMatchObject({ subject: 'user-1' });
  });

  it('verifies with a JWK given as JSON text, with or without its alg', async () => {
    const withAlg = await createJwtVerifier(options({ publicKey: JSON.stringify(ec.jwk) }));
    await expect(withAlg.verify(await sign(ec))).resolves.toMatchObject({ subject: 'user-1' });
    const { alg: _alg, ...bare } = rsa.jwk;
    const withoutAlg = await createJwtVerifier(options({ publicKey: JSON.stringify(bare) }));
    await expect(withoutAlg.verify(await sign(rsa))).resolves.toMatchObject({ subject: 'user-1' });
  });

  it('still checks the claims with a static key', async () => {
    const verifier = await createJwtVerifier(options({ publicKey: JSON.stringify(ec.jwk) }));
    await expectError(verifier.verify(await sign(ec, claims({ iss: 'https://other.test/' }))), 'UNAUTHENTICATED', 'issuer');
    await expectError(verifier.verify(await sign(await keyPair('ES256', 'x'))), 'UNAUTHENTICATED', 'signature');
  });

  it('refuses an oct (symmetric) JWK, private keys, and a JWK whose alg is not allowed with CONFIG_INVALID', async () => {
    const oct = JSON.stringify({ kty: 'oct', k: Buffer.from('a shared secret of 32 bytes!!!!!').toString('base64url'), alg: 'HS256' });
    await expectError(createJwtVerifier(options({ publicKey: oct })), 'CONFIG_INVALID');
    await expectError(createJwtVerifier(options({ publicKey: JSON.stringify({ kty: 'oct', k: 'c2VjcmV0' }) })), 'CONFIG_INVALID');
    const privateJwk = { ...(await exportJWK(rsa.privateKey)), alg: 'RS256' };
    await expectError(createJwtVerifier(options({ publicKey: JSON.stringify(privateJwk) })), 'CONFIG_INVALID');
    await expectError(createJwtVerifier(options({ publicKey: await exportPKCS8(rsa.privateKey) })), 'CONFIG_INVALID');
    await expectError(createJwtVerifier(options({ publicKey: JSON.stringify(ec.jwk), algorithms: ['RS256'] })), 'CONFIG_INVALID');
    await expectError(createJwtVerifier(options({ publicKey: await exportSPKI(ec.publicKey), algorithms: ['RS256', 'PS256'] })), 'CONFIG_INVALID');
    await expectError(createJwtVerifier(options({ publicKey: 'not a key' })), 'CONFIG_INVALID');
    await expectError(createJwtVerifier(options({ publicKey: '{"keys": []}' })), 'CONFIG_INVALID');
  });
});

describe('createJwtVerifier options', () => {
  it('refuses none, HS*, unknown algorithms, and anything but exactly one key source with CONFIG_INVALID', async () => {
    const pem = await exportSPKI(rsa.publicKey);
    await expectError(createJwtVerifier(options({ publicKey: pem, algorithms: ['RS256', 'none'] })), 'CONFIG_INVALID');
    await expectError(createJwtVerifier(options({ publicKey: pem, algorithms: ['HS256'] })), 'CONFIG_INVALID');
    await expectError(createJwtVerifier(options({ publicKey: pem, algorithms: [] })), 'CONFIG_INVALID');
    await expectError(createJwtVerifier(options({ publicKey: pem, algorithms: ['XS999'] })), 'CONFIG_INVALID');
    await expectError(createJwtVerifier(options()), 'CONFIG_INVALID');
    await expectError(createJwtVerifier(options({ publicKey: pem, jwksUrl: server.url })), 'CONFIG_INVALID');
    await expectError(createJwtVerifier(options({ jwksUrl: 'file:///etc/jwks.json' })), 'CONFIG_INVALID');
    await expectError(createJwtVerifier(options({ jwksUrl: server.url, issuer: '' })), 'CONFIG_INVALID');
    await expectError(createJwtVerifier(options({ jwksUrl: server.url, jwksTimeoutMs: 1.5 })), 'CONFIG_INVALID');
  });
});
