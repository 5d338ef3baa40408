/**
 * The service's mode, chosen once at start, and the principal of each request.
 *
 * - `local`: the service listens only on loopback and no credential is configured. Every request
 *   without a credential is the local admin of tenant `default`; the HTTP edge checks Host and Origin
 *   so that a web page cannot reach the API through DNS rebinding or a cross-site form.
 * - `authenticated`: API keys exist, a JWT issuer is set, AGENTIC_AUTH=required, or the service
 *   listens beyond loopback. Every request but health and the API documents needs a credential.
 * - `none`: AGENTIC_AUTH=none, an operator's explicit choice to run without authentication.
 *
 * A credential that is presented is always checked, in every mode: a wrong one is refused, never
 * ignored.
 */
import { isIP } from 'node:net';
import type { Config } from '../config/index.js';
import { AppError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Store } from '../store/types.js';
import { createJwtVerifier, type JwtVerifier } from './jwt.js';
import { isWellFormedKey, keyPrincipal, keyRefusal, looksLikeApiKey, secretHash } from './keys.js';
import { localPrincipal, type Principal } from './principal.js';

export type AuthMode = 'local' | 'authenticated' | 'none';

/** How often a key's last_used_at is written, at most, per process. */
const TOUCH_EVERY_MS = 60_000;

/** True for 127.0.0.0/8, ::1 and `localhost`: addresses no other machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  return mapped !== null && mapped[1]!.startsWith('127.');
}

export interface ModeDecision {
  mode: AuthMode;
  /** What an operator should know (printed at start and shown by /health). */
  warnings: string[];
}

/**
 * Chooses the mode from the settings and whether any active API key exists. Listening beyond loopback
 * with no way to authenticate is a start-up error (CONFIG_INVALID) unless AGENTIC_AUTH=none.
 */
export function chooseAuthMode(config: Pick<Config, 'auth' | 'host' | 'jwtIssuer'>, activeKeys: number): ModeDecision {
  const loopback = isLoopbackHost(config.host);
  if (config.auth === 'none') {
    return {
      mode: 'none',
      warnings: [
        `AGENTIC_AUTH=none: no authentication. Anyone who can reach ${config.host} acts as the admin of tenant "default"` +
          (loopback ? '' : ', from any machine') +
          '. Create a key (agentic keys create) and remove AGENTIC_AUTH to turn authentication on.',
      ],
    };
  }
  const credentials = activeKeys > 0 || config.jwtIssuer !== undefined;
  if (config.auth === 'auto' && loopback && !credentials) return { mode: 'local', warnings: [] };
  if (!credentials && !loopback) {
    throw new AppError(
      'CONFIG_INVALID',
      `HOST=${config.host} is reachable from other machines, and no way to authenticate is configured: create an API key ` +
        '(npx agentic keys create --tenant default --role admin) or set AGENTIC_JWT_ISSUER, or set AGENTIC_AUTH=none to run without authentication',
      { details: { host: config.host } },
    );
  }
  const warnings = credentials ? [] : ['AGENTIC_AUTH=required, and no API key or JWT issuer exists yet: create a key with `agentic keys create`'];
  return { mode: 'authenticated', warnings };
}

/** Finds the principal of a request's credential. One per App (it holds the JWKS cache). */
export class Authenticator {
  readonly #touched = new Map<string, number>();

  private constructor(
    readonly mode: AuthMode,
    readonly warnings: string[],
    private readonly store: Store,
    private readonly jwt: JwtVerifier | null,
    private readonly logger: Logger,
  ) {}

  static async create(config: Config, store: Store, logger: Logger): Promise<Authenticator> {
    const decision = chooseAuthMode(config, config.auth === 'none' ? 0 : await store.countActiveApiKeys());
    const jwt = config.jwtIssuer
      ? await createJwtVerifier({
          issuer: config.jwtIssuer,
          audience: config.jwtAudience!,
          jwksUrl: config.jwtJwksUrl,
          publicKey: config.jwtPublicKey,
          algorithms: config.jwtAlgorithms,
          tenantClaim: config.jwtTenantClaim,
          roleClaim: config.jwtRoleClaim,
        })
      : null;
    return new Authenticator(decision.mode, decision.warnings, store, jwt, logger);
  }

  /** The principal of a request, from its Authorization header; UNAUTHENTICATED when it has none that works. */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (authorization === undefined || authorization === '') {
      if (this.mode !== 'authenticated') return localPrincipal(this.mode === 'none' ? 'none' : 'local');
      throw unauthenticated('missing', 'This service needs a credential: send Authorization: Bearer <API key or token>');
    }
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (!match) throw unauthenticated('malformed', 'The Authorization header must be "Bearer <API key or token>"');
    return this.fromToken(match[1]!);
  }

  /** The principal of a bearer token: one of our API keys, or a JWT when JWT sign-in is configured. */
  async fromToken(token: string): Promise<Principal> {
    if (looksLikeApiKey(token)) return this.#fromKey(token);
    if (!this.jwt) throw unauthenticated('invalid', 'The credential is not a valid API key');
    const identity = await this.jwt.verify(token);
    return {
      id: `jwt:${identity.subject}`,
      tenantId: identity.tenantId,
      roles: identity.roles,
      kind: 'jwt',
      credentialId: `jwt:${identity.subject}`,
      name: identity.name,
      operator: false,
    };
  }

  async #fromKey(key: string): Promise<Principal> {
    const record = isWellFormedKey(key) ? await this.store.findApiKey(secretHash(key)) : null;
    if (!record) throw unauthenticated('invalid', 'The credential is not a valid API key');
    const refusal = keyRefusal(record);
    if (refusal) throw unauthenticated(refusal, `API key ${record.id} was ${refusal}`, { key_id: record.id });
    this.#touch(record.id);
    return keyPrincipal(record);
  }

  /** Records the key's use, at most once a minute per process (a write per request would cost more than the request). */
  #touch(id: string): void {
    const now = Date.now();
    if (now - (this.#touched.get(id) ?? 0) < TOUCH_EVERY_MS) return;
    this.#touched.set(id, now);
    if (this.#touched.size > 10_000) this.#touched.clear();
    this.store.touchApiKey(id).catch((err: unknown) => this.logger.warn({ err: String(err), key_id: id }, 'could not record a key\'s use'));
  }
}

export function unauthenticated(reason: string, message: string, details: Record<string, unknown> = {}): AppError {
  return new AppError('UNAUTHENTICATED', message, { details: { reason, ...details } });
}
