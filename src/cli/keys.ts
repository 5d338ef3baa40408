/**
 * `agentic keys create|list|revoke`: API keys, managed in the database directly, so the first admin
 * key can be made before any key exists (and an operator's `*` key, which only this command makes).
 */
import { parseArgs } from 'node:util';
import { createApiKey, keyView, parseExpiry } from '../auth/keys.js';
import { parseRoles } from '../auth/principal.js';
import type { Config } from '../config/index.js';
import { AppError } from '../errors.js';
import { createStore, type Store } from '../store/index.js';
import { cliAuditEntry } from './operator.js';

const USAGE = `Usage:
  agentic keys create --tenant T --role R[,R2] [--name N] [--expires 30d|12h|2027-01-31] [--json]
  agentic keys list [--tenant T] [--json]
  agentic keys revoke ID [--json]
Roles: viewer, member, approver, admin. --tenant '*' makes an operator key, which acts for any tenant
named in the X-Act-As-Tenant header.`;

export async function commandKeys(config: Config, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      tenant: { type: 'string' },
      role: { type: 'string' },
      name: { type: 'string' },
      expires: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [sub, id] = positionals;
  if (!sub || !['create', 'list', 'revoke'].includes(sub)) throw new AppError('VALIDATION_ERROR', USAGE);
  const store = await openStore(config);
  try {
    if (sub === 'create') return await create(store, values);
    if (sub === 'list') return await list(store, values.tenant, values.json);
    if (!id) throw new AppError('VALIDATION_ERROR', `agentic keys revoke needs a key id\n\n${USAGE}`);
    return await revoke(store, id, values.json);
  } finally {
    await store.close();
  }
}

async function openStore(config: Config): Promise<Store> {
  try {
    return await createStore({
      databaseUrl: config.databaseUrl,
      dataDir: config.databaseUrl ? undefined : config.dataDir,
      schema: config.databaseSchema,
      poolSize: 1,
    });
  } catch (err) {
    // The embedded database belongs to one process at a time.
    if (err instanceof AppError && err.message.includes('is in use by process')) {
      throw new AppError('CONFIG_INVALID', `${err.message.replace(/\. Stop it, or talk to it with --url\.$/, '')}. Stop the service to manage keys here, or use the API (POST /v1/keys, GET /v1/keys, DELETE /v1/keys/{id}) with an admin key.`, { cause: err });
    }
    throw err;
  }
}

async function create(store: Store, v: { tenant?: string; role?: string; name?: string; expires?: string; json: boolean }): Promise<number> {
  if (!v.tenant || !v.role) throw new AppError('VALIDATION_ERROR', `agentic keys create needs --tenant and --role\n\n${USAGE}`);
  const { record, key } = await createApiKey(store, {
    tenantId: v.tenant,
    roles: parseRoles(v.role),
    name: v.name,
    expiresAt: parseExpiry(v.expires),
    createdBy: 'cli',
  });
  await cliAudit(store, record.tenant_id, 'key.created', record.id, { name: record.name, roles: record.roles, expires_at: record.expires_at });
  if (v.json) {
    console.log(JSON.stringify({ id: record.id, key, tenant: record.tenant_id, role: record.roles.join(','), roles: record.roles, name: record.name, expires_at: record.expires_at }));
  } else {
    console.log(`Created key ${record.id} (${record.name}) for tenant ${record.tenant_id}, roles ${record.roles.join(', ')}${record.expires_at ? `, expires ${record.expires_at}` : ''}.`);
    console.log('The key is shown this once; keep it in a secret store:\n');
    console.log(`  ${key}\n`);
    console.log(`Use it as: curl -H 'Authorization: Bearer ${key.slice(0, 10)}…' http://127.0.0.1:8000/v1/tasks`);
  }
  return 0;
}

async function list(store: Store, tenant: string | undefined, json: boolean): Promise<number> {
  const keys = [];
  let cursor: string | undefined;
  do {
    const page = await store.listApiKeys({ tenantId: tenant, limit: 100, cursor });
    keys.push(...page.items.map((k) => keyView(k)));
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  if (json) {
    console.log(JSON.stringify(keys, null, 2));
    return 0;
  }
  if (keys.length === 0) console.log('No keys.');
  for (const k of keys) {
    console.log(`${k.id}  ${k.status.padEnd(7)}  ${k.tenant.padEnd(16)} ${k.roles.join(',').padEnd(16)} ${k.prefix.padEnd(12)} ${k.name}${k.expires_at ? `  expires ${k.expires_at}` : ''}`);
  }
  return 0;
}

async function revoke(store: Store, id: string, json: boolean): Promise<number> {
  const revoked = await store.revokeApiKey(id, undefined, 'cli');
  if (!revoked) throw new AppError('KEY_NOT_FOUND', `No key ${id}`, { details: { key_id: id } });
  await cliAudit(store, revoked.tenant_id, 'key.revoked', revoked.id, { name: revoked.name });
  console.log(json ? JSON.stringify(keyView(revoked)) : `Revoked ${revoked.id} (${revoked.name}) at ${revoked.revoked_at}`);
  return 0;
}

/** The command line's changes to keys are audited like the API's. */
async function cliAudit(store: Store, tenant: string, action: string, keyId: string, details: Record<string, unknown>): Promise<void> {
  await store.appendAudit({ ...cliAuditEntry(action, details), tenant_id: tenant, target_type: 'key', target_id: keyId });
}
