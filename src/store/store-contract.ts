/**
 * The store's contract test suite, run against every implementation (PGlite and PostgreSQL).
 * Lives beside the code so any new engine gets the same checks by calling `runStoreContract`.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import type { Store } from './types.js';

export interface StoreFixture {
  store: Store;
  /** A second store on the same database, as another process would open it (shared engines only). */
  peer?: Store;
  cleanup(): Promise<void>;
}

const plan = [
  { id: 's1', agent: 'researcher', title: 'Search', instruction: 'find', depends_on: [], tools: ['knowledge_search'] },
  { id: 's2', agent: 'analyst', title: 'Count', instruction: 'count', depends_on: [], tools: ['calculator'] },
  { id: 's3', agent: 'writer', title: 'Write', instruction: 'write', depends_on: ['s1', 's2'], tools: [] },
];

export function runStoreContract(name: string, open: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let fx: StoreFixture;
    let store: Store;
    beforeAll(async () => {
      fx = await open();
      store = fx.store;
    });
    afterAll(async () => {
      await fx?.cleanup();
    });

    const newTask = (over: Partial<Parameters<Store['createTask']>[0]> = {}) =>
      store.createTask({ id: randomUUID(), tenantId: 'acme', input: 'do things', files: [], options: {}, start: true, ...over });

    it('creates a task with its task_created event at seq 1', async () => {
      const { value, events } = await newTask();
      expect(value.created).toBe(true);
      expect(value.task.status).toBe('pending');
      expect(value.task.queued_at).not.toBeNull();
      expect(events.map((e) => [e.seq, e.type])).toEqual([[1, 'task_created']]);
      const stored = await store.listEvents(value.task.id, 0, 100);
      expect(stored).toEqual(events);
    });

    it('returns the same task for a repeated idempotency key and refuses a different request', async () => {
      const key = randomUUID();
      const a = await newTask({ idempotencyKey: key, requestHash: 'h1' });
      const b = await newTask({ idempotencyKey: key, requestHash: 'h1' });
      expect(b.value.created).toBe(false);
      expect(b.value.task.id).toBe(a.value.task.id);
      expect(b.events).toEqual([]);
      await expect(newTask({ idempotencyKey: key, requestHash: 'h2' })).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
      // The same key in another tenant is a different task.
      const c = await newTask({ idempotencyKey: key, requestHash: 'h2', tenantId: 'other' });
      expect(c.value.created).toBe(true);
    });

    it('commits state changes and events together, and rolls both back on error', async () => {
      const { value } = await newTask();
      const id = value.task.id;
      const r = await store.write(id, async (w) => {
        await w.updateTask({ status: 'planning' });
        await w.append({ type: 'planning_started', data: { brain: 'builtin', deadline_at: new Date().toISOString() } });
        return w.task.status;
      });
      expect(r.value).toBe('planning');
      expect(r.events.map((e) => e.seq)).toEqual([2]);
      await expect(
        store.write(id, async (w) => {
          await w.updateTask({ status: 'failed' });
          await w.append({ type: 'task_failed', data: { error: { code: 'X', message: 'x' }, duration_ms: 0, usage: zero } });
          throw new AppError('INTERNAL_ERROR', 'boom');
        }),
      ).rejects.toThrow('boom');
      const task = await store.getTask(id);
      expect(task?.status).toBe('planning');
      expect(task?.last_seq).toBe(2);
      expect((await store.listEvents(id, 0, 100)).map((e) => e.seq)).toEqual([1, 2]);
    });

    it('keeps concurrent writes of other tasks when one write in the same batch fails', async () => {
      const ids = await Promise.all(Array.from({ length: 6 }, async () => (await newTask()).value.task.id));
      const results = await Promise.allSettled(
        ids.map((id, i) =>
          store.write(id, async (w) => {
            await w.append({ type: 'partial_output', data: { text: `w${i}`, attempt: 1, turn: 0 } });
            if (i === 2) throw new AppError('INTERNAL_ERROR', 'this one fails');
            return i;
          }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
      for (const [i, id] of ids.entries()) {
        const types = (await store.listEvents(id, 0, 10)).map((e) => e.type);
        expect(types).toEqual(i === 2 ? ['task_created'] : ['task_created', 'partial_output']);
      }
    });

    it('assigns gap-free seqs under concurrent writers', async () => {
      const { value } = await newTask();
      const id = value.task.id;
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.write(id, async (w) => {
            await w.append({ type: 'partial_output', step_id: 's1', data: { text: `a${i}`, attempt: 1, turn: 0 } });
            await w.append({ type: 'partial_output', step_id: 's1', data: { text: `b${i}`, attempt: 1, turn: 0 } });
          }),
        ),
      );
      const events = await store.listEvents(id, 0, 1000);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
      expect((await store.listEvents(id, 30, 5)).map((e) => e.seq)).toEqual([31, 32, 33, 34, 35]);
    });

    it('assigns gap-free seqs when two processes write to one task at once', async ({ skip }) => {
      if (!fx.peer) return skip();
      const { value } = await newTask();
      const id = value.task.id;
      const writes = (s: Store, tag: string) =>
        Array.from({ length: 30 }, (_, i) =>
          s.write(id, async (w) => {
            await w.append({ type: 'partial_output', step_id: 's1', data: { text: `${tag}${i}`, attempt: 1, turn: 0 } });
          }),
        );
      await Promise.all([...writes(store, 'a'), ...writes(fx.peer, 'b')]);
      const events = await store.listEvents(id, 0, 1000);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 61 }, (_, i) => i + 1));
      expect((await fx.peer.getTask(id))?.last_seq).toBe(61);
    });

    it('stores versioned plans and steps with dependencies, all pending until the engine promotes them', async () => {
      const { value } = await newTask();
      const id = value.task.id;
      await store.write(id, async (w) => {
        await w.insertPlan(1, 'builtin', 'because', plan);
        await w.updateTask({ plan_version: 1, status: 'running' });
      });
      const steps = await store.listSteps(id);
      expect(steps.map((s) => [s.id, s.status, s.depends_on])).toEqual([
        ['s1', 'pending', []],
        ['s2', 'pending', []],
        ['s3', 'pending', ['s1', 's2']],
      ]);
      expect((await store.getPlan(id, 1))?.steps.map((s) => s.id)).toEqual(['s1', 's2', 's3']);
      expect(await store.listPlans(id)).toHaveLength(1);
    });

    it('leases a step to one owner at a time and lets an expired lease be taken over', async () => {
      const { value } = await newTask();
      const id = value.task.id;
      await store.write(id, async (w) => {
        await w.insertPlan(1, 'builtin', '', plan);
        await w.updateStep('s1', { status: 'ready' });
      });
      const claim = async (stepId: string, owner: string, ms: number) => {
        const r = (await store.write(id, (w) => w.claimStep(stepId, owner, ms))).value;
        return r.ok ? r.step : null;
      };
      const a = await claim('s1', 'worker-a', 60_000);
      expect(a?.status).toBe('running');
      expect(a?.lease_owner).toBe('worker-a');
      expect(await claim('s1', 'worker-b', 60_000)).toBeNull();
      expect(await claim('s3', 'worker-b', 60_000)).toBeNull(); // pending: not runnable
      expect(await store.renewLeases('worker-a', 1)).toEqual(new Set([`${id} s1`]));
      await new Promise((r) => setTimeout(r, 20));
      const b = await claim('s1', 'worker-b', 60_000);
      expect(b?.lease_owner).toBe('worker-b');
      expect((await store.renewLeases('worker-a', 60_000)).has(`${id} s1`)).toBe(false);
      expect((await store.getStep(id, 's1'))?.lease_owner).toBe('worker-b');
      expect(await store.releaseLeases('worker-b')).toEqual([{ task_id: id, step_id: 's1' }]);
      expect((await store.getStep(id, 's1'))?.lease_owner).toBeNull();
      expect((await claim('s1', 'worker-c', 60_000))?.lease_owner).toBe('worker-c');
      expect(await store.releaseAllLeases()).toBeGreaterThanOrEqual(1);
      expect((await store.getStep(id, 's1'))?.lease_owner).toBeNull();
    });

    it('refuses a claim while the tenant has its maximum of steps running', async () => {
      const tenant = `busy-${randomUUID()}`;
      const ids = [(await newTask({ tenantId: tenant })).value.task.id, (await newTask({ tenantId: tenant })).value.task.id];
      for (const id of ids) {
        await store.write(id, async (w) => {
          await w.insertPlan(1, 'builtin', '', plan);
          await w.updateStep('s1', { status: 'ready' });
          await w.updateStep('s2', { status: 'ready' });
        });
      }
      const claim = async (id: string, stepId: string) => (await store.write(id, (w) => w.claimStep(stepId, 'w', 60_000, { tenantMaxRunning: 2 }))).value;
      expect((await claim(ids[0]!, 's1')).ok).toBe(true);
      expect((await claim(ids[1]!, 's1')).ok).toBe(true);
      expect(await claim(ids[1]!, 's2')).toEqual({ ok: false, reason: 'tenant_busy' });
      // Claims in one batch count each other.
      const both = await Promise.all([claim(ids[0]!, 's2'), claim(ids[1]!, 's2')]);
      expect(both.map((r) => r.ok)).toEqual([false, false]);
      // Another tenant is not held back.
      const other = (await newTask({ tenantId: `free-${randomUUID()}` })).value.task.id;
      await store.write(other, async (w) => {
        await w.insertPlan(1, 'builtin', '', plan);
        await w.updateStep('s1', { status: 'ready' });
      });
      expect((await claim(other, 's1')).ok).toBe(true);
    });

    it('journals turns and the tool-call ledger', async () => {
      const { value } = await newTask();
      const id = value.task.id;
      await store.write(id, async (w) => {
        await w.insertPlan(1, 'builtin', '', plan);
        expect(await w.updateStep('s1', { status: 'running' }, { status: ['ready'] })).toBe(false);
        expect(await w.updateStep('s1', { status: 'running' }, { status: ['pending'] })).toBe(true);
        expect((await w.listSteps()).map((s) => s.status)).toEqual(['running', 'pending', 'pending']);
      });
      const key = `${id}:s1:0:0`;
      await store.write(id, async (w) => {
        await w.insertTurn('s1', 1, 0, { type: 'tool_calls', calls: [{ tool: 'calculator', args: { expression: '1+1' } }] });
        await w.startToolCall({
          idempotency_key: key, task_id: id, step_id: 's1', attempt: 1, turn: 0, call_index: 0,
          tool: 'calculator', effect: 'read_only', args: { expression: '1+1' },
        });
      });
      expect(await store.listTurns(id, 's1')).toEqual([
        { turn: 0, decision: { type: 'tool_calls', calls: [{ tool: 'calculator', args: { expression: '1+1' } }] }, observations: null },
      ]);
      expect((await store.getToolCall(key))?.status).toBe('started');
      await store.write(id, async (w) => {
        await w.finishToolCall(key, { ok: true, result: { result: 2 }, duration_ms: 3 });
        await w.completeTurn('s1', 0, [{ call_id: 'c0', tool: 'calculator', args: {}, ok: true, result: { result: 2 } }]);
        await w.insertTurn('s1', 1, 1, { type: 'final', output: { text: '2', sources: [] } });
      });
      const entry = await store.getToolCall(key);
      expect(entry).toMatchObject({ status: 'completed', result: { result: 2 }, duration_ms: 3 });
      const turns = await store.listTurns(id, 's1');
      expect(turns.map((t) => [t.turn, t.decision.type, t.observations?.length])).toEqual([
        [0, 'tool_calls', 1],
        [1, 'final', 0],
      ]);
      expect(await store.listToolCalls(id)).toHaveLength(1);
    });

    it('sums usage per task and per step', async () => {
      const { value } = await newTask();
      const id = value.task.id;
      await store.write(id, (w) => w.insertPlan(1, 'builtin', '', plan));
      await store.write(id, async (w) => {
        await w.recordUsage({ purpose: 'plan', model: 'm', input_tokens: 10, output_tokens: 5, cached_tokens: 1, cost_usd: 0.5 });
        await w.recordUsage({ purpose: 'decide', step_id: 's1', model: 'm', input_tokens: 3, output_tokens: 2, cached_tokens: 0, cost_usd: 0.25 });
      });
      const u = await store.taskUsage(id);
      expect(u).toMatchObject({ calls: 2, input_tokens: 13, output_tokens: 7, cached_tokens: 1, cost_usd: 0.75 });
      expect(u.by_step.s1).toMatchObject({ calls: 1, input_tokens: 3 });
      const totals = await store.write(id, async (w) => {
        await w.recordUsage({ purpose: 'decide', step_id: 's1', model: 'm', input_tokens: 1, output_tokens: 1, cached_tokens: 0, cost_usd: 0.25 });
        return { task: await w.usage(), step: await w.usage('s1'), other: await w.usage('s2') };
      });
      expect(totals.value.task).toEqual({ model_calls: 3, input_tokens: 14, output_tokens: 8, cached_tokens: 1, cost_usd: 1 });
      expect(totals.value.step).toEqual({ model_calls: 2, input_tokens: 4, output_tokens: 3, cached_tokens: 0, cost_usd: 0.5 });
      expect(totals.value.other.model_calls).toBe(0);
    });

    it('lists tasks newest first with cursor pagination and status filter, scoped by tenant', async () => {
      const tenant = `t-${randomUUID()}`;
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await newTask({ tenantId: tenant })).value.task.id);
      await store.write(ids[0]!, (w) => w.updateTask({ status: 'completed' }));
      const first = await store.listTasks({ tenantId: tenant, limit: 2 });
      expect(first.items).toHaveLength(2);
      expect(first.next_cursor).not.toBeNull();
      const second = await store.listTasks({ tenantId: tenant, limit: 2, cursor: first.next_cursor! });
      const third = await store.listTasks({ tenantId: tenant, limit: 2, cursor: second.next_cursor! });
      expect(third.next_cursor).toBeNull();
      const all = [...first.items, ...second.items, ...third.items].map((t) => t.id);
      expect(new Set(all)).toEqual(new Set(ids));
      expect(await store.countTasks({ tenantId: tenant })).toBe(5);
      expect((await store.listTasks({ tenantId: tenant, status: ['completed'], limit: 10 })).items.map((t) => t.id)).toEqual([ids[0]]);
      await expect(store.listTasks({ tenantId: tenant, limit: 2, cursor: 'garbage' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
      expect(await store.getTask(ids[0]!, 'someone-else')).toBeNull();
      expect((await store.findOrphanedWork(0, 10_000)).plans).toContain(ids[1]);
    });

    it('ranks documents by full-text relevance and returns passages with document ids', async () => {
      const tenant = `t-${randomUUID()}`;
      const vacation = await store.insertDocument({
        id: randomUUID(), tenantId: tenant, title: 'Vacation policy',
        content: 'Employees receive 25 days of paid vacation per year.\n\nUnused vacation days carry over until March.',
        metadata: { team: 'hr' },
      });
      await store.insertDocument({
        id: randomUUID(), tenantId: tenant, title: 'Expense policy',
        content: 'Travel expenses are reimbursed within 30 days. Keep every receipt.', metadata: {},
      });
      expect(vacation.chunks).toBe(1);
      const index = store.documentIndex(tenant);
      const hits = await index.search('How many vacation days do employees get?');
      expect(hits[0]?.document_id).toBe(vacation.id);
      expect(hits[0]?.text).toContain('25 days');
      expect(hits[0]?.score).toBeGreaterThan(0);
      expect(await index.search('the and of')).toEqual([]);
      expect(await store.documentIndex('other-tenant').search('vacation')).toEqual([]);
      const page = await store.listDocuments({ tenantId: tenant, limit: 10 });
      expect(page.items.map((d) => d.title).sort()).toEqual(['Expense policy', 'Vacation policy']);
      expect(await store.deleteDocument(vacation.id, 'other-tenant')).toBe(false);
      expect(await store.deleteDocument(vacation.id, tenant)).toBe(true);
      expect(await index.search('vacation')).toEqual([]);
    });

    it('stores files as bytes with their hash', async () => {
      const data = Buffer.from('a,b\n1,2\n\u00e9,\u0000\n', 'utf8');
      const f = await store.insertFile({ id: randomUUID(), tenantId: 'acme', name: 'x.csv', contentType: 'text/csv', data });
      expect(f.size).toBe(data.length);
      const back = await store.readFile(f.id, 'acme');
      expect(back?.data.equals(data)).toBe(true);
      expect(await store.readFile(f.id, 'other')).toBeNull();
      expect((await store.getFile(f.id, 'acme'))?.sha256).toBe(f.sha256);
      expect((await store.listFiles({ tenantId: 'acme', limit: 100 })).items.map((x) => x.id)).toContain(f.id);
    });

    it('counts the backlog: queued tasks not yet planned and ready steps', async () => {
      const before = await store.countBacklog();
      const { value } = await newTask();
      await newTask({ start: false });
      expect(await store.countBacklog()).toBe(before + 1);
      await store.write(value.task.id, async (w) => {
        await w.updateTask({ status: 'running' });
        await w.insertPlan(1, 'builtin', '', plan);
        await w.updateStep('s1', { status: 'ready' });
        await w.updateStep('s2', { status: 'ready' });
      });
      expect(await store.countBacklog()).toBe(before + 2);
    });

    it('answers ping', async () => {
      expect(await store.ping()).toBe(true);
    });

    // Identity and access: what must hold however many processes share the database.

    it('admits a tenant\'s concurrent creations up to its limits, exactly, and never another tenant\'s', async () => {
      const tenant = `quota-${randomUUID().slice(0, 8)}`;
      const other = fx.peer ?? store;
      const tries = Array.from({ length: 12 }, (_, i) =>
        (i % 2 ? other : store).createTask({ id: randomUUID(), tenantId: tenant, input: 'x', files: [], options: {}, start: false, admission: { maxTasks: 5 } }),
      );
      const outcomes = await Promise.allSettled(tries);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(5);
      const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason as AppError);
      expect(refused).toHaveLength(7);
      for (const e of refused) expect(e).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { quota: 'max_tasks', limit: 5, current: 5 } });
      expect(await store.countTasks({ tenantId: tenant })).toBe(5);
      // Per minute counts finished tasks too; a retry of a created task under its key is answered with that task.
      const minute = `minute-${randomUUID().slice(0, 8)}`;
      const first = await store.createTask({ id: randomUUID(), tenantId: minute, input: 'x', files: [], options: {}, start: false, idempotencyKey: 'k', requestHash: 'h', admission: { perMinute: 1 } });
      await expect(store.createTask({ id: randomUUID(), tenantId: minute, input: 'y', files: [], options: {}, start: false, admission: { perMinute: 1 } })).rejects.toMatchObject({
        code: 'QUOTA_EXCEEDED',
        details: { quota: 'tasks_per_minute', limit: 1 },
      });
      const again = await store.createTask({ id: randomUUID(), tenantId: minute, input: 'x', files: [], options: {}, start: false, idempotencyKey: 'k', requestHash: 'h', admission: { perMinute: 1 } });
      expect(again.value).toMatchObject({ created: false, task: { id: first.value.task.id } });
    });

    it('sums a tenant\'s spend today: model use plus what its calls in flight hold, across its tasks', async () => {
      const tenant = `spend-${randomUUID().slice(0, 8)}`;
      const a = (await newTask({ tenantId: tenant })).value.task.id;
      const b = (await newTask({ tenantId: tenant })).value.task.id;
      await store.write(a, async (w) => {
        await w.recordUsage({ model: 'm', input_tokens: 100, output_tokens: 50, cached_tokens: 0, cost_usd: 0.5, purpose: 'plan' });
      });
      await store.write(b, async (w) => {
        await w.updateTask({ reserved_tokens: 1000, reserved_usd: 2 });
      });
      const seen = await (fx.peer ?? store).write(a, (w) => w.tenantSpend());
      expect(seen.value).toEqual({ tokens: 1150, usd: 2.5 });
      // Within one write, its own reservation counts at once.
      const own = await store.write(a, async (w) => {
        await w.updateTask({ reserved_tokens: 10, reserved_usd: 0.1 });
        return w.tenantSpend();
      });
      expect(own.value.tokens).toBe(1160);
      expect((await store.write(b, (w) => w.tenantSpend())).value.tokens).toBe(1160);
      const stranger = (await newTask({ tenantId: `other-${tenant}` })).value.task.id;
      expect((await store.write(stranger, (w) => w.tenantSpend())).value).toEqual({ tokens: 0, usd: 0 });
    });

    it('redeems a stream ticket once, however many try at the same time, and only for its task before it expires', async () => {
      const task = (await newTask()).value.task.id;
      const hash = randomUUID();
      await store.createStreamTicket({ hash, tenantId: 'acme', taskId: task, principal: { id: 'key:k' }, expiresAt: new Date(Date.now() + 60_000).toISOString() });
      expect(await store.redeemStreamTicket(hash, 'another-task')).toBeNull();
      const other = fx.peer ?? store;
      const redeemed = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? other : store).redeemStreamTicket(hash, task)));
      expect(redeemed.filter((r) => r !== null)).toEqual([{ tenant_id: 'acme', principal: { id: 'key:k' } }]);
      const late = randomUUID();
      await store.createStreamTicket({ hash: late, tenantId: 'acme', taskId: task, principal: {}, expiresAt: new Date(Date.now() - 1).toISOString() });
      expect(await store.redeemStreamTicket(late, task)).toBeNull();
    });

    it('versions a tenant\'s tool policy: of concurrent changes from one version, exactly one wins', async () => {
      const tenant = `policy-${randomUUID().slice(0, 8)}`;
      expect(await store.getToolPolicy(tenant)).toBeNull();
      const v1 = await store.putToolPolicy({ tenantId: tenant, rules: [{ tool: 'a', decision: 'deny' }], createdBy: 'key:x', expectedVersion: 0 });
      expect(v1).toMatchObject({ version: 1, created_by: 'key:x' });
      const other = fx.peer ?? store;
      const racing = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => (i % 2 ? other : store).putToolPolicy({ tenantId: tenant, rules: [{ tool: `t${i}`, decision: 'allow' }], createdBy: 'key:y', expectedVersion: 1 })),
      );
      expect(racing.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of racing.filter((x) => x.status === 'rejected')) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'POLICY_VERSION_CONFLICT' });
      expect((await store.getToolPolicy(tenant))!.version).toBe(2);
      // Without an expected version every change is a new version.
      await Promise.all([store.putToolPolicy({ tenantId: tenant, rules: [], createdBy: 'a' }), other.putToolPolicy({ tenantId: tenant, rules: [], createdBy: 'b' })].map((p) => p.catch(() => null)));
      const versions = (await store.listToolPolicies({ tenantId: tenant, limit: 10 })).items.map((p) => p.version);
      expect(versions[0]).toBeGreaterThanOrEqual(3);
      expect(versions).toEqual([...versions].sort((x, y) => y - x));
    });

    it('keeps the audit log append-only: updates, deletes and truncation are refused by the database', async () => {
      const entry = await store.appendAudit({
        tenant_id: 'acme', principal: 'key:k', principal_name: 'k', roles: ['admin'], acting_from: null,
        action: 'task.created', target_type: 'task', target_id: 't1', details: { input: 'x' }, request_id: 'r1',
      });
      const db = (store as unknown as { db: { query(sql: string, p?: unknown[]): Promise<unknown> } }).db;
      for (const sql of ['UPDATE audit_log SET principal = $1 WHERE id = $2', 'DELETE FROM audit_log WHERE id = $2 OR $1 = $1', 'TRUNCATE audit_log']) {
        const params = sql.startsWith('TRUNCATE') ? [] : ['mallory', entry.id];
        await expect(db.query(sql, params)).rejects.toThrow(/append-only/);
      }
      const page = await store.listAudit({ tenantId: 'acme', targetId: 't1', limit: 10 });
      expect(page.items.find((e) => e.id === entry.id)).toMatchObject({ principal: 'key:k', action: 'task.created', details: { input: 'x' } });
    });

    it('finds a key by its hash only, and revokes it once (the first revocation is kept)', async () => {
      const id = `key_${randomUUID().slice(0, 8)}`;
      await store.createApiKey({ id, tenantId: 'acme', roles: ['member'], name: 'k', secretHash: `h-${id}`, prefix: 'agk_abcdef', expiresAt: null, createdBy: 'cli' });
      expect(await store.findApiKey(`h-${id}`)).toMatchObject({ id, tenant_id: 'acme', roles: ['member'], revoked_at: null });
      expect(await store.revokeApiKey(id, 'other', 'x')).toBeNull();
      const first = await store.revokeApiKey(id, 'acme', 'key:admin');
      const second = await store.revokeApiKey(id, undefined, 'cli');
      expect(second).toMatchObject({ revoked_by: 'key:admin', revoked_at: first!.revoked_at });
    });
  });
}

const zero = { input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 0 };
