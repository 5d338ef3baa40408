/**
 * Who the command line acts as when it opens the database itself (`agentic keys`, in-process `run` and
 * `tasks`): whoever can open the database is its operator, the principal `cli`, admin of tenant `default`,
 * named by the user running it. Its actions are audited like the API's.
 */
import { userInfo } from 'node:os';
import type { Creator, NewAudit } from '../store/types.js';

export const CLI: Creator = { id: 'cli', name: userInfo().username || null, roles: ['admin'] };

/** An audit entry of the command line, without its tenant and target (as the store's task creation takes it). */
export function cliAuditEntry(action: string, details: Record<string, unknown>): Omit<NewAudit, 'tenant_id' | 'target_type' | 'target_id'> {
  return { principal: CLI.id, principal_name: CLI.name, roles: CLI.roles, acting_from: null, action, details, request_id: null };
}
