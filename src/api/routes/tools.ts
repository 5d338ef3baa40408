import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import type { App } from '../../compose.js';
import { AppError, ERROR_CODES, type ErrorCode } from '../../errors.js';
import type { ApprovalRecord } from '../../store/types.js';
import { audit } from '../audit.js';
import { findTask, idempotencyKey, tenantOf } from '../context.js';
import { artifactParams, decideApprovalBody, idParams, invokeToolBody, listApprovalsQuery, nameParams } from '../schemas.js';
import { responses, schemaOf } from '../validation.js';

/** The tools, their direct invocation, approvals of risky calls, and the files tools produced. */
export function toolRoutes(app: App) {
  return async (f: FastifyInstance) => {
    f.get(
      '/v1/tools',
      {
        config: { access: 'read' },
        schema: {
          tags: ['tools'],
          summary: 'Every tool: schemas, limits, effect, and what the tool policy answers for it',
          description:
            '`policy.task` is what calls inside your tasks get, `policy.direct` what you get invoking it directly (allow, deny, ask, or depends: ' +
            'on the arguments or the agent); `needs_approval` and `invocable` say the same in the older terms.',
          response: responses(200, '`{items: [tool]}`'),
        },
      },
      async (request) => {
        const tenantId = tenantOf(request);
        const policies = app.engine.ctx.policies;
        const items = await Promise.all(
          app.tools.list(tenantId).map(async (t) => {
            const inTask = await policies.summarize(tenantId, t, 'task', request.principal.roles);
            const direct = await policies.summarize(tenantId, t, 'direct', request.principal.roles);
            return {
              ...t,
              policy: { task: inTask, direct },
              needs_approval: inTask === 'ask' ? 'always' : inTask === 'depends' ? 'depends_on_args' : 'never',
              invocable: direct !== 'deny',
            };
          }),
        );
        return { items };
      },
    );

    f.post<{ Params: z.infer<typeof nameParams>; Body: z.infer<typeof invokeToolBody> }>(
      '/v1/tools/:name/invoke',
      {
        config: { access: 'write' }, schema: {
          tags: ['tools'],
          summary: 'Run one tool directly, under the limits, sandbox, ledger and approval rules of a task',
          description:
            'Send `Idempotency-Key` (required for tools with side effects or that need approval): a repeated request returns the recorded result. ' +
            'A call that needs approval answers 202 with the pending request; once it is approved, repeat the request with the same key.',
          params: schemaOf(nameParams),
          body: schemaOf(invokeToolBody),
          response: responses(200, '`{tool, ok: true, result, replayed, duration_ms}`; a call that failed answers with its error (`details.tool`, `details.replayed`) and that error\'s status'),
        },
      },
      async (request, reply) => {
        const controller = new AbortController();
        // The connection closing before the answer was written: the client went away; stop the tool.
        reply.raw.once('close', () => {
          if (!reply.raw.writableFinished) controller.abort(new AppError('CANCELLED', 'The client went away'));
        });
        if (!app.tools.has(request.params.name, tenantOf(request))) {
          throw new AppError('TOOL_NOT_FOUND', `No tool named "${request.params.name}"`, { details: { tool: request.params.name } });
        }
        const outcome = await app.engine.invokeTool({
          tenantId: tenantOf(request),
          principal: request.principal,
          tool: request.params.name,
          args: request.body.args,
          idempotencyKey: idempotencyKey(request.headers['idempotency-key']),
          signal: controller.signal,
        });
        if (outcome.status === 'awaiting_approval') {
          return reply.status(202).send({ tool: request.params.name, status: 'awaiting_approval', approval: approvalView(outcome.approval), policy: outcome.policy });
        }
        if (outcome.replayed) void reply.header('idempotent-replayed', 'true');
        else await audit(app, request, 'tool.invoked', { type: 'tool', id: request.params.name }, { ok: outcome.ok, policy: outcome.policy, duration_ms: outcome.duration_ms });
        if (!outcome.ok) {
          // A failed call answers like every error of the API, with the tool's code and its status.
          const e = outcome.error;
          const code = (e.code in ERROR_CODES ? e.code : 'TOOL_FAILED') as ErrorCode;
          throw new AppError(code, e.message, { details: { ...e.details, tool: request.params.name, replayed: outcome.replayed } });
        }
        return { tool: request.params.name, ok: true, result: outcome.result, replayed: outcome.replayed, duration_ms: outcome.duration_ms, policy: outcome.policy };
      },
    );

    f.get<{ Querystring: z.infer<typeof listApprovalsQuery> }>(
      '/v1/approvals',
      { config: { access: 'read' }, schema: { tags: ['approvals'], summary: 'Approval requests, newest first (pending by default)', querystring: schemaOf(listApprovalsQuery), response: responses(200, '`{items: [approval], next_cursor}`') } },
      async (request) => {
        const q = request.query;
        const page = await app.store.listApprovals({ tenantId: tenantOf(request), status: q.status, taskId: q.task_id, tool: q.tool, limit: q.limit, cursor: q.cursor });
        return { items: page.items.map(approvalView), next_cursor: page.next_cursor };
      },
    );

    f.get<{ Params: { id: string } }>(
      '/v1/approvals/:id',
      { config: { access: 'read' }, schema: { tags: ['approvals'], summary: 'One approval request', params: schemaOf(idParams), response: responses(200, 'The approval') } },
      async (request) => {
        const approval = await app.store.getApproval(request.params.id, tenantOf(request));
        if (!approval) throw new AppError('APPROVAL_NOT_FOUND', `No approval request ${request.params.id}`, { details: { approval_id: request.params.id } });
        return approvalView(approval);
      },
    );

    f.post<{ Params: { id: string }; Body: z.infer<typeof decideApprovalBody> }>(
      '/v1/approvals/:id',
      {
        config: { access: 'approve' }, schema: {
          tags: ['approvals'],
          summary: 'Approve or reject a pending request; the waiting step goes on',
          params: schemaOf(idParams),
          body: schemaOf(decideApprovalBody),
          response: responses(200, 'The decided approval; 409 APPROVAL_DECIDED when it was already decided'),
        },
      },
      async (request) => {
        const principal = request.principal;
        const claimed = request.body.decided_by;
        if (claimed !== undefined && claimed !== principal.id) {
          throw new AppError('VALIDATION_ERROR', `decided_by is always the authenticated principal (${principal.id}); leave it out`, {
            details: { decided_by: claimed, principal: principal.id },
          });
        }
        const decided = await app.engine.decideApproval(tenantOf(request), request.params.id, {
          decision: request.body.decision,
          reason: request.body.reason ?? null,
          decidedBy: principal.id,
          // One person runs a local service: there is no second pair of eyes to ask for.
          fourEyesApplies: principal.kind === 'key' || principal.kind === 'jwt',
        });
        await audit(app, request, 'approval.decided', { type: 'approval', id: decided.id }, {
          decision: request.body.decision,
          tool: decided.tool,
          task_id: decided.task_id,
          reason: decided.reason,
        });
        return approvalView(decided);
      },
    );

    f.get<{ Params: { id: string } }>(
      '/v1/tasks/:id/artifacts',
      { config: { access: 'read' }, schema: { tags: ['tasks'], summary: 'Files the task\'s tools produced (run_python\'s outputs folder)', params: schemaOf(idParams), response: responses(200, '`{items: [{name, content_type, size, sha256, links}]}`') } },
      async (request) => {
        const task = await findTask(app, request, request.params.id);
        const items = await app.store.listArtifacts(task.id);
        return { items: items.map((a) => ({ ...a, links: { content: `/v1/tasks/${task.id}/artifacts/${encodeURIComponent(a.name)}` } })) };
      },
    );

    f.get<{ Params: z.infer<typeof artifactParams> }>(
      '/v1/tasks/:id/artifacts/:name',
      { config: { access: 'read' }, schema: { tags: ['tasks'], summary: 'The bytes of an artifact', params: schemaOf(artifactParams) } },
      async (request, reply) => {
        const task = await findTask(app, request, request.params.id);
        const artifact = await app.store.readArtifact(task.id, request.params.name);
        if (!artifact) throw new AppError('NOT_FOUND', `Task ${task.id} has no artifact "${request.params.name}"`, { details: { task_id: task.id, name: request.params.name } });
        return reply
          .header('content-type', artifact.content_type)
          .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(artifact.name)}`)
          .header('x-content-type-options', 'nosniff')
          .send(artifact.data);
      },
    );
  };
}

export function approvalView(a: ApprovalRecord) {
  return {
    id: a.id,
    status: a.status,
    tool: a.tool,
    args: a.args,
    args_hash: a.args_hash,
    reason_requested: a.rule,
    requested_by: a.requested_by,
    task_id: a.task_id,
    step_id: a.step_id,
    call_id: a.step_id !== null && a.turn !== null ? `${a.step_id}.${a.turn}.${a.call_index}` : null,
    created_at: a.created_at,
    expires_at: a.expires_at,
    default_decision: a.default_decision,
    decided_by: a.decided_by,
    decided_at: a.decided_at,
    reason: a.reason,
    expired: a.expired,
    links: { self: `/v1/approvals/${a.id}`, ...(a.task_id ? { task: `/v1/tasks/${a.task_id}` } : {}) },
  };
}
