/**
 * API keys: 256 random bits, shown once, stored as a SHA-256 hash. A fast hash is enough for a key
 * with that much entropy (there is nothing to guess); what matters is that a copy of the database
 * holds no usable key. Keys start with `agk_` so that secret scanners and people recognise them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';
import type { ApiKeyRecord, Store } from '../store/types.js';
import { ANY_TENANT, TENANT_PATTERN, type Principal, type Role } from './principal.js';

export const KEY_PREFIX = 'agk_';
/** `agk_` and 43 base64url characters (32 bytes). */
const KEY_SHAPE = /^agk_[A-Za-z0-9_-]{43}$/;

/** SHA-256 of a key or ticket, hex: what the store keeps and looks up. */
export function secretHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Whether a bearer token has the shape of one of our keys (anything else may be a JWT). */
export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(KEY_PREFIX);
}

export function isWellFormedKey(token: string): boolean {
  return KEY_SHAPE.test(token);
}

export interface NewKeyRequest {
  tenantId: string;
  roles: Role[];
  name?: string;
  /** When the key stops working; null: never. */
  expiresAt: Date | null;
  /** The principal creating it (`cli` on the command line). */
  createdBy: string;
}

/** Makes a key and stores its hash. The returned `key` exists nowhere else: show it once. */
export async function createApiKey(store: Store, req: NewKeyRequest): Promise<{ record: ApiKeyRecord; key: string }> {
  if (req.tenantId !== ANY_TENANT && !TENANT_PATTERN.test(req.tenantId)) {
    throw new AppError('VALIDATION_ERROR', 'The tenant must be 1-64 letters, digits, ".", "_" or "-" (or * for an operator key)', { details: { tenant: req.tenantId } });
  }
  if (req.expiresAt && req.expiresAt.getTime() <= Date.now()) {
    throw new AppError('VALIDATION_ERROR', 'The expiry is in the past', { details: { expires_at: req.expiresAt.toISOString() } });
  }
  const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  const id = `key_${randomBytes(8).toString('hex')}`;
  const record = await store.createApiKey({
    id,
    tenantId: req.tenantId,
    roles: req.roles,
    name: req.name?.trim() || id,
    secretHash: secretHash(key),
    prefix: key.slice(0, KEY_PREFIX.length + 6),
    expiresAt: req.expiresAt?.toISOString() ?? null,
    createdBy: req.createdBy,
  });
  return { record, key };
}

/** Why a stored key may not be used now, or null when it may. */
export function keyRefusal(record: ApiKeyRecord, now = Date.now()): 'revoked' | 'expired' | null {
  if (record.revoked_at !== null) return 'revoked';
  if (record.expires_at !== null && Date.parse(record.expires_at) <= now) return 'expired';
  return null;
}

export function keyPrincipal(record: ApiKeyRecord): Principal {
  const operator = record.tenant_id === ANY_TENANT;
  return {
    id: `key:${record.id}`,
    tenantId: record.tenant_id,
    roles: record.roles,
    kind: 'key',
    credentialId: record.id,
    name: record.name,
    operator,
  };
}

const DURATION = /^(\d{1,6})\s*(m|h|d|w|y)$/i;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000 };

/**
 * An expiry given as a duration from now (`90m`, `12h`, `30d`, `8w`, `1y`) or an ISO date/time;
 * `never` or empty means no expiry. VALIDATION_ERROR for anything else.
 */
export function parseExpiry(value: string | undefined | null, now = Date.now()): Date | null {
  const text = value?.trim() ?? '';
  if (text === '' || text.toLowerCase() === 'never') return null;
  const duration = DURATION.exec(text);
  if (duration) return new Date(now + Number(duration[1]) * UNIT_MS[duration[2]!.toLowerCase()]!);
  const at = Date.parse(text);
  if (/^\d{4}-\d{2}-\d{2}/.test(text) && !Number.isNaN(at)) return new Date(at);
  throw new AppError('VALIDATION_ERROR', `Cannot read the expiry "${text.slice(0, 40)}": give a duration such as 30d, 12h or 1y, or a date such as 2027-01-31`, {
    details: { expires: text.slice(0, 40) },
  });
}

/** A key as listed: never its hash or the key itself. */
export function keyView(k: ApiKeyRecord, now = Date.now()) {
  return {
    id: k.id,
    name: k.name,
    tenant: k.tenant_id,
    roles: k.roles,
    prefix: `${k.prefix}…`,
    created_at: k.created_at,
    created_by: k.created_by,
    expires_at: k.expires_at,
    last_used_at: k.last_used_at,
    revoked_at: k.revoked_at,
    revoked_by: k.revoked_by,
    status: keyRefusal(k, now) ?? 'active',
  };
}
