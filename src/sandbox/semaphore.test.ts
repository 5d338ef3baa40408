import { describe, expect, it } from 'vitest';
import { CappedOutput } from './capped-output.js';
import { Semaphore } from './semaphore.js';

describe('Semaphore', () => {
  it('runs at most `limit` tasks at once, in arrival order', async () => {
    const gate = new Semaphore(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    const task = (n: number) => async () => {
      active += 1;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 10));
      order.push(n);
      active -= 1;
      return n;
    };
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => gate.run(task(n))));
    expect(results).toEqual([1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
    expect(order.slice(0, 2).sort()).toEqual([1, 2]);
  });

  it('stops waiting when the signal aborts, and frees the slot of a failed task', async () => {
    const gate = new Semaphore(1);
    let release!: () => void;
    const holder = gate.run(() => new Promise<void>((r) => (release = r)));
    const controller = new AbortController();
    const waiting = gate.run(async () => 'ran', controller.signal);
    controller.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    release();
    await holder;
    await expect(gate.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(gate.run(async () => 'free')).resolves.toBe('free');
  });

  it('rejects a limit below one', () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });
});

describe('CappedOutput', () => {
  it('keeps the first bytes, counts the rest and marks the cut', () => {
    const out = new CappedOutput(5);
    out.push('abc');
    out.push(Buffer.from('defgh'));
    expect(out.total).toBe(8);
    expect(out.truncated).toBe(true);
    expect(out.text()).toBe('abcde\n[output truncated: 3 more bytes not shown]');
  });

  it('returns the text unchanged under the cap', () => {
    const out = new CappedOutput(100);
    out.push('héllo');
    expect(out.truncated).toBe(false);
    expect(out.text()).toBe('héllo');
  });
});
