/**
 * Who is asking. A principal is established once, at the HTTP edge, from the credential (an API key,
 * a JWT, a stream ticket, or the one local user of a service that listens only on loopback), and
 * travels with every call into the engine and the store. The tenant comes only from the credential.
 *
 * Roles are sets: a credential may hold several (`approver,member`). What a role may do is a set of
 * permissions, and every route declares the one permission it needs.
 *
 * | role | read | write | approve | admin |
 * |---|---|---|---|---|
 * | viewer | ✓ | | | |
 * | member | ✓ | ✓ | | |
 * | approver | ✓ | | ✓ | |
 * | admin | ✓ | ✓ | ✓ | ✓ |
 */
import { AppError } from '../errors.js';

export const ROLES = ['viewer', 'member', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/**
 * - `read`: see the tenant's tasks, events, files, documents, tools and approvals.
 * - `write`: create and cancel tasks, upload files and documents, invoke tools directly.
 * - `approve`: decide approval requests.
 * - `admin`: API keys, the tool policy, the audit log.
 */
export const PERMISSIONS = ['read', 'write', 'approve', 'admin'] as const;
export type Permission = (typeof PERMISSIONS)[number];

const GRANTS: Record<Role, readonly Permission[]> = {
  viewer: ['read'],
  member: ['read', 'write'],
  approver: ['read', 'approve'],
  admin: ['read', 'write', 'approve', 'admin'],
};

/** How the principal proved who it is. */
export type CredentialKind = 'local' | 'none' | 'key' | 'jwt';

export interface Principal {
  /**
   * Stable and unique: `key:<key id>`, `jwt:<subject>`, or `local` for the one user of a local-mode
   * service. Recorded as `created_by`, `decided_by` and in the audit log.
   */
  id: string;
  /** The tenant every read and write is scoped to. */
  tenantId: string;
  roles: readonly Role[];
  kind: CredentialKind;
  /** The API key's id or the token's subject; null for the local user. Rate limits count per credential. */
  credentialId: string | null;
  /** A readable name: the key's name, the token's `name` or `email` claim. */
  name: string | null;
  /**
   * May act for another tenant with the `X-Act-As-Tenant` header (each such request is audited): keys made
   * for tenant `*` on the command line, and the local user.
   */
  operator: boolean;
  /** Set when an operator acts for `tenantId` from another tenant (its own, or `*`). */
  actingFrom?: string;
}

/** The tenant name rule: 1-64 letters, digits, `.`, `_` or `-`. */
export const TENANT_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** The tenant of a key that may act for every tenant (an operator's key, made on the command line). */
export const ANY_TENANT = '*';

/** The local user of a service on loopback with no credentials configured (and of AGENTIC_AUTH=none). */
export function localPrincipal(kind: 'local' | 'none' = 'local'): Principal {
  return { id: 'local', tenantId: 'default', roles: ['admin'], kind, credentialId: null, name: null, operator: true };
}

export function can(principal: Pick<Principal, 'roles'>, permission: Permission): boolean {
  return principal.roles.some((r) => GRANTS[r].includes(permission));
}

/** The permissions a set of roles grants, in the order of PERMISSIONS. */
export function permissionsOf(roles: readonly Role[]): Permission[] {
  return PERMISSIONS.filter((p) => roles.some((r) => GRANTS[r].includes(p)));
}

/**
 * Parses roles from a comma-separated string or a list (`approver,member`). Unknown names are refused
 * with VALIDATION_ERROR naming them; duplicates collapse; order follows ROLES.
 */
export function parseRoles(value: string | readonly string[]): Role[] {
  const names = (typeof value === 'string' ? value.split(',') : value).map((r) => r.trim().toLowerCase()).filter(Boolean);
  const unknown = names.filter((r) => !(ROLES as readonly string[]).includes(r));
  if (unknown.length > 0 || names.length === 0) {
    throw new AppError('VALIDATION_ERROR', `Unknown role${unknown.length === 1 ? '' : 's'} ${unknown.join(', ') || '(none given)'}; roles are ${ROLES.join(', ')}`, {
      details: { roles: names, known: ROLES },
    });
  }
  return ROLES.filter((r) => names.includes(r));
}

/** Whether `granted` roles grant at least everything `wanted` roles do (an admin may not mint more than it holds). */
export function covers(granted: readonly Role[], wanted: readonly Role[]): boolean {
  const have = permissionsOf(granted);
  return permissionsOf(wanted).every((p) => have.includes(p));
}
