/**
 * Sign-in with tokens from the operator's identity provider. A JWT is accepted only when it is signed
 * with one of the configured asymmetric algorithms by a key of the configured issuer (published as a
 * JWKS, or given once as a static public key), is meant for this service (`aud`), is within its
 * validity window, and names a subject, a tenant and roles. Shared-secret (HS*) and unsigned (`none`)
 * tokens are never accepted: the issuer's public key must not double as a secret.
 *
 * Every refusal is UNAUTHENTICATED with `details.reason` saying which check failed; a JWKS that cannot
 * be fetched is AUTH_UNAVAILABLE (503), because the caller's token may well be fine.
 */
import {
  createRemoteJWKSet,
  errors,
  importJWK,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import { AppError } from '../errors.js';
import { ANY_TENANT, TENANT_PATTERN, parseRoles, type Role } from './principal.js';

export interface JwtOptions {
  /** The `iss` every token must carry. */
  issuer: string;
  /** The `aud` every token must carry (one of, when the token lists several). */
  audience: string;
  /** Where the issuer publishes its signing keys. Exactly one of `jwksUrl` and `publicKey`. */
  jwksUrl?: string;
  /** One static public key: PEM (SPKI, `-----BEGIN PUBLIC KEY-----`) or one public JWK as JSON text. */
  publicKey?: string;
  /** The signature algorithms accepted, e.g. `['RS256', 'PS256', 'ES256', 'EdDSA']`; never `none`, never HS*. */
  algorithms: string[];
  /** The claim naming the tenant, e.g. `tenant`. */
  tenantClaim: string;
  /** The claim holding the roles: a string (`member`), a comma-separated string (`approver,member`) or an array. */
  roleClaim: string;
  /** Seconds of clock skew allowed for `exp` and `nbf`. Default 5. */
  clockToleranceSec?: number;
  /** How long one JWKS fetch may take, in milliseconds. Default 5000. */
  jwksTimeoutMs?: number;
}

/** What a verified token says about its bearer. */
export interface JwtIdentity {
  /** The token's `sub`. */
  subject: string;
  /** The tenant claim; always a valid tenant name, never `*`. */
  tenantId: string;
  roles: Role[];
  /** `name`, else `email`, else `preferred_username`, at most 200 characters; null when none is given. */
  name: string | null;
  /** The token's `exp` (always present: tokens without one are refused). */
  expiresAt: Date | null;
}

export interface JwtVerifier {
  /** Resolves with the bearer's identity, or rejects with UNAUTHENTICATED (bad token) or AUTH_UNAVAILABLE (JWKS down). */
  verify(token: string): Promise<JwtIdentity>;
}

/** Why a token was refused, in `details.reason` of the UNAUTHENTICATED error. */
type RefusalReason =
  | 'malformed'
  | 'algorithm'
  | 'signature'
  | 'expired'
  | 'not_yet_valid'
  | 'issuer'
  | 'audience'
  | 'claims'
  | 'unknown_key';

/** Asymmetric signature algorithms jose verifies on Node. Shared secrets and `none` are deliberately absent. */
const ASYMMETRIC_ALGORITHMS = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);

const DEFAULT_CLOCK_TOLERANCE_SEC = 5;
const DEFAULT_JWKS_TIMEOUT_MS = 5000;
const MAX_NAME_CHARS = 200;

/** Async because importing a static key is async. A bad static key / options is AppError CONFIG_INVALID. */
export async function createJwtVerifier(options: JwtOptions): Promise<JwtVerifier> {
  checkOptions(options);
  const getKey = options.jwksUrl !== undefined
    ? remoteKeys(options.jwksUrl, options.jwksTimeoutMs ?? DEFAULT_JWKS_TIMEOUT_MS)
    : staticKeys(await importStaticKey(options.publicKey ?? '', options.algorithms));
  const verifyOptions: JWTVerifyOptions = {
    issuer: options.issuer,
    audience: options.audience,
    algorithms: [...options.algorithms],
    requiredClaims: ['exp', 'sub'],
    clockTolerance: options.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC,
  };
  return {
    async verify(token) {
      if (typeof token !== 'string' || token.length === 0) throw refuse('malformed', 'The bearer token is not a JWT');
      let payload: JWTPayload;
      try {
        payload = await verifySignedToken(token, getKey, verifyOptions);
      } catch (err) {
        throw refusalFor(err);
      }
      return identityFrom(payload, options);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Options

/** Throws CONFIG_INVALID naming every problem with the options. */
function checkOptions(options: JwtOptions): void {
  const problems: string[] = [];
  if (!nonEmpty(options.issuer)) problems.push('issuer must be a non-empty string');
  if (!nonEmpty(options.audience)) problems.push('audience must be a non-empty string');
  if (!nonEmpty(options.tenantClaim)) problems.push('tenantClaim must be a non-empty string');
  if (!nonEmpty(options.roleClaim)) problems.push('roleClaim must be a non-empty string');
  if ((options.jwksUrl === undefined) === (options.publicKey === undefined)) problems.push('give exactly one of jwksUrl and publicKey');
  if (options.jwksUrl !== undefined && !isHttpUrl(options.jwksUrl)) problems.push('jwksUrl must be an http or https URL');
  if (options.publicKey !== undefined && !nonEmpty(options.publicKey)) problems.push('publicKey must be a non-empty string');
  if (!Array.isArray(options.algorithms) || options.algorithms.length === 0) {
    problems.push('algorithms must list at least one algorithm');
  } else {
    const refused = options.algorithms.filter((a) => !ASYMMETRIC_ALGORITHMS.has(a));
    if (refused.length > 0) problems.push(`algorithms may only be ${[...ASYMMETRIC_ALGORITHMS].join(', ')}; refused: ${refused.join(', ')}`);
  }
  const tolerance = options.clockToleranceSec;
  if (tolerance !== undefined && !(Number.isFinite(tolerance) && tolerance >= 0)) problems.push('clockToleranceSec must be a number >= 0');
  const timeout = options.jwksTimeoutMs;
  if (timeout !== undefined && !(Number.isInteger(timeout) && timeout > 0)) problems.push('jwksTimeoutMs must be a whole number > 0');
  if (problems.length > 0) throw configInvalid(`Invalid JWT settings: ${problems.join('; ')}`, { problems });
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.trim().length > 0;
}

function isHttpUrl(value: string): boolean {
  try {
    const { protocol } = new URL(value);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}

function configInvalid(message: string, details: Record<string, unknown> = {}, cause?: unknown): AppError {
  return new AppError('CONFIG_INVALID', message, { details, cause });
}

// ---------------------------------------------------------------------------------------------
// Keys

/**
 * The issuer's published keys. jose caches them (10 minutes), refetches when a token names a key it
 * has not seen (at most once per 30 s cooldown, so unknown `kid`s cannot make us hammer the issuer),
 * and shares one fetch between concurrent callers. A fetch that fails is AUTH_UNAVAILABLE, not a refusal.
 */
function remoteKeys(url: string, timeoutMs: number): JWTVerifyGetKey {
  const jwks = createRemoteJWKSet(new URL(url), { timeoutDuration: timeoutMs });
  return async (header, token) => {
    try {
      return await jwks(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys || err instanceof errors.JOSENotSupported) throw err;
      const why = err instanceof Error && err.message ? `: ${err.message}` : '';
      throw new AppError('AUTH_UNAVAILABLE', `The identity provider's signing keys could not be fetched or used${why}; try again later`, {
        details: { reason: 'jwks_unreachable' },
        cause: err,
      });
    }
  };
}

/** A static key, imported once per algorithm it can verify (WebCrypto keys are bound to one algorithm). */
function staticKeys(keys: Map<string, CryptoKey>): JWTVerifyGetKey {
  return (header) => {
    const key = keys.get(header.alg ?? '');
    if (!key) throw refuse('algorithm', `The token's algorithm cannot be verified with the configured public key (it verifies ${[...keys.keys()].join(', ')})`);
    return key;
  };
}

/** Imports `publicKey` as PEM or JWK for every allowed algorithm it suits. CONFIG_INVALID if it suits none. */
async function importStaticKey(text: string, algorithms: readonly string[]): Promise<Map<string, CryptoKey>> {
  // Keys passed through environment variables often arrive with literal `\n` for newlines.
  const trimmed = text.trim().replace(/\\n/g, '\n');
  return trimmed.startsWith('{') ? importJwkText(trimmed, algorithms) : importPem(trimmed, algorithms);
}

async function importPem(pem: string, algorithms: readonly string[]): Promise<Map<string, CryptoKey>> {
  if (/PRIVATE KEY-----/.test(pem)) throw configInvalid('publicKey holds a private key; give the issuer\'s public key (SPKI PEM or public JWK)');
  if (!pem.startsWith('-----BEGIN PUBLIC KEY-----')) throw configInvalid('publicKey must be a PEM public key (-----BEGIN PUBLIC KEY-----) or one JWK as JSON');
  const keys = new Map<string, CryptoKey>();
  let lastError: unknown;
  for (const alg of algorithms) {
    try {
      keys.set(alg, await importSPKI(pem, alg));
    } catch (err) {
      lastError = err;
    }
  }
  if (keys.size === 0) throw configInvalid(`publicKey cannot be used with any of the algorithms ${algorithms.join(', ')}`, {}, lastError);
  return keys;
}

async function importJwkText(text: string, algorithms: readonly string[]): Promise<Map<string, CryptoKey>> {
  const jwk = parseJwk(text);
  if (jwk.kty === 'oct') throw configInvalid('publicKey is a symmetric (oct) JWK; only public keys of an asymmetric algorithm are accepted');
  if (jwk.d !== undefined || jwk.p !== undefined || jwk.priv !== undefined) throw configInvalid('publicKey is a private JWK; give the public key only');
  if (jwk.use !== undefined && jwk.use !== 'sig') throw configInvalid(`publicKey JWK has "use": "${String(jwk.use)}"; it must be "sig" or absent`);
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) throw configInvalid('publicKey JWK "key_ops" must include "verify"');
  if (jwk.alg !== undefined && !algorithms.includes(jwk.alg)) throw configInvalid(`publicKey JWK has "alg": "${jwk.alg}", which is not among the allowed algorithms ${algorithms.join(', ')}`);
  const keys = new Map<string, CryptoKey>();
  let lastError: unknown;
  for (const alg of jwk.alg === undefined ? algorithms : [jwk.alg]) {
    try {
      const key = await importJWK(jwk, alg);
      if (key instanceof Uint8Array || key.type !== 'public') throw new TypeError('not a public key');
      keys.set(alg, key);
    } catch (err) {
      lastError = err;
    }
  }
  if (keys.size === 0) throw configInvalid(`publicKey JWK cannot be used with any of the algorithms ${algorithms.join(', ')}`, {}, lastError);
  return keys;
}

function parseJwk(text: string): JWK {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw configInvalid('publicKey looks like JSON but does not parse; give one JWK as JSON text or a PEM public key', {}, err);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as JWK).kty !== 'string') {
    throw configInvalid('publicKey JSON must be one JWK object with a "kty" (a JWKS belongs at jwksUrl)');
  }
  return value as JWK;
}

// ---------------------------------------------------------------------------------------------
// Verification

/**
 * Checks signature and standard claims. When several keys of a JWKS match (an issuer that omits
 * `kid` during a rotation), jose hands them back in the error and each is tried in turn.
 */
async function verifySignedToken(token: string, getKey: JWTVerifyGetKey, options: JWTVerifyOptions): Promise<JWTPayload> {
  try {
    return (await jwtVerify(token, getKey, options)).payload;
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
    for await (const key of err) {
      try {
        return (await jwtVerify(token, key, options)).payload;
      } catch (inner) {
        if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}

function refuse(reason: RefusalReason, message: string, cause?: unknown): AppError {
  return new AppError('UNAUTHENTICATED', message, { details: { reason }, cause });
}

/** Maps jose's errors to refusals. Messages never quote the token. */
function refusalFor(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof errors.JWTExpired) return refuse('expired', 'The token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) return claimRefusal(err);
  if (err instanceof errors.JOSEAlgNotAllowed) return refuse('algorithm', 'The token is signed with an algorithm this service does not accept');
  if (err instanceof errors.JWSSignatureVerificationFailed) return refuse('signature', 'The token\'s signature is not valid');
  if (err instanceof errors.JWKSNoMatchingKey) return refuse('unknown_key', 'The token is signed with a key the identity provider does not publish');
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) {
    return refuse('malformed', 'The bearer token is not a well-formed JWT');
  }
  // Anything else is a key that cannot check this token (e.g. an RSA key shorter than 2048 bits).
  return refuse('signature', 'The token\'s signature could not be checked with the identity provider\'s key', err);
}

function claimRefusal(err: InstanceType<typeof errors.JWTClaimValidationFailed>): AppError {
  if (err.claim === 'iss') return refuse('issuer', 'The token was not issued by the configured identity provider');
  if (err.claim === 'aud') return refuse('audience', 'The token is not meant for this service (audience mismatch)');
  if (err.claim === 'nbf' && err.reason === 'check_failed') return refuse('not_yet_valid', 'The token is not valid yet (nbf is in the future)');
  return refuse('claims', `The token's "${err.claim}" claim is missing or invalid`);
}

// ---------------------------------------------------------------------------------------------
// Identity

function identityFrom(payload: JWTPayload, options: JwtOptions): JwtIdentity {
  const subject = payload.sub;
  if (typeof subject !== 'string' || subject.trim().length === 0) throw refuse('claims', 'The token has no subject (sub)');
  return {
    subject,
    tenantId: tenantFrom(payload, options.tenantClaim),
    roles: rolesFrom(payload, options.roleClaim),
    name: nameFrom(payload),
    expiresAt: typeof payload.exp === 'number' ? new Date(payload.exp * 1000) : null,
  };
}

/** An own property of the payload only, so a claim named `constructor` is not found on the prototype. */
function claim(payload: JWTPayload, name: string): unknown {
  return Object.hasOwn(payload, name) ? payload[name] : undefined;
}

function tenantFrom(payload: JWTPayload, tenantClaim: string): string {
  const tenant = claim(payload, tenantClaim);
  if (tenant === undefined) throw refuse('claims', `The token has no "${tenantClaim}" claim naming the tenant`);
  if (tenant === ANY_TENANT) throw refuse('claims', `The token's "${tenantClaim}" claim is "*"; a token may not act for every tenant`);
  if (typeof tenant !== 'string' || !TENANT_PATTERN.test(tenant)) {
    throw refuse('claims', `The token's "${tenantClaim}" claim is not a valid tenant name (1-64 letters, digits, ".", "_" or "-")`);
  }
  return tenant;
}

function rolesFrom(payload: JWTPayload, roleClaim: string): Role[] {
  const value = claim(payload, roleClaim);
  if (value === undefined) throw refuse('claims', `The token has no "${roleClaim}" claim holding its roles`);
  if (typeof value !== 'string' && !(Array.isArray(value) && value.every((r) => typeof r === 'string'))) {
    throw refuse('claims', `The token's "${roleClaim}" claim must be a string or a list of strings`);
  }
  try {
    return parseRoles(value);
  } catch (err) {
    throw refuse('claims', `The token's "${roleClaim}" claim is not usable: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function nameFrom(payload: JWTPayload): string | null {
  for (const key of ['name', 'email', 'preferred_username']) {
    const value = claim(payload, key);
    if (typeof value === 'string' && value.trim().length > 0) return Array.from(value).slice(0, MAX_NAME_CHARS).join('');
  }
  return null;
}
