/** Credentials for tests: API keys made through the store, as `agentic keys create` makes them. */
import { createApiKey } from '../../src/auth/keys.js';
import { parseRoles } from '../../src/auth/principal.js';
import type { App } from '../../src/compose.js';

export interface TestKey {
  id: string;
  key: string;
  /** `{authorization: 'Bearer …'}`. */
  headers: Record<string, string>;
}

/** A key of `tenant` with `roles` (e.g. 'member' or 'approver,member'); `expiresAt` may be in the past for expiry tests. */
export async function makeKey(app: App, tenant: string, roles: string, options: { name?: string; expiresAt?: Date } = {}): Promise<TestKey> {
  const { record, key } = await createApiKey(app.store, {
    tenantId: tenant,
    roles: parseRoles(roles),
    name: options.name,
    expiresAt: null,
    createdBy: 'test',
  });
  if (options.expiresAt) {
    // Keys cannot be made already expired; a test that needs one moves the expiry afterwards.
    await (app.store as unknown as { db: { query(sql: string, p: unknown[]): Promise<unknown> } }).db.query('UPDATE api_keys SET expires_at = $2 WHERE id = $1', [record.id, options.expiresAt.toISOString()]);
  }
  return { id: record.id, key, headers: bearer(key) };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** In local mode, the local admin acting for another tenant (each request audited). */
export function actAs(tenant: string): Record<string, string> {
  return { 'x-act-as-tenant': tenant };
}
