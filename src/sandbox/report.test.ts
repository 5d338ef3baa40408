import { describe, expect, it } from 'vitest';
import { isPlainFileName, parseLauncherReport } from './report.js';

const exit = { type: 'exit', exit_code: 0, signal: null, limit: null, cpu_ms: 5, wall_ms: 7, max_rss_kb: 100 };
const line = (record: unknown) => Buffer.from(`${JSON.stringify(record)}\n`);

describe('parseLauncherReport', () => {
  it('reads files, skipped entries and the exit record', () => {
    const bytes = Buffer.concat([
      line({ type: 'file', name: 'a.txt', size: 3 }),
      Buffer.from('abc'),
      line({ type: 'skipped', name: 'link', reason: 'not a regular file' }),
      line({ type: 'file', name: 'b.bin', size: 0 }),
      line(exit),
    ]);
    const report = parseLauncherReport(bytes);
    expect(report.corrupt).toBe(false);
    expect(report.exit).toMatchObject({ exit_code: 0, cpu_ms: 5 });
    expect(report.files.map((f) => [f.name, f.data.toString()])).toEqual([
      ['a.txt', 'abc'],
      ['b.bin', ''],
    ]);
    expect(report.skipped).toEqual([{ name: 'link', reason: 'not a regular file' }]);
  });

  it('refuses names that are not one plain path segment', () => {
    const bytes = Buffer.concat([line({ type: 'file', name: '../evil', size: 1 }), Buffer.from('x'), line(exit)]);
    const report = parseLauncherReport(bytes);
    expect(report.files).toEqual([]);
    expect(report.skipped[0]?.reason).toMatch(/plain file name/);
  });

  it('flags a truncated file, garbage and data after the exit record as corrupt', () => {
    expect(parseLauncherReport(Buffer.concat([line({ type: 'file', name: 'a', size: 10 }), Buffer.from('abc')])).corrupt).toBe(true);
    expect(parseLauncherReport(Buffer.from('{"type":"nope"}\n')).corrupt).toBe(true);
    expect(parseLauncherReport(Buffer.from('not json')).corrupt).toBe(true);
    expect(parseLauncherReport(Buffer.concat([line(exit), line(exit)])).corrupt).toBe(true);
  });

  it('reports a missing exit record as null', () => {
    expect(parseLauncherReport(Buffer.alloc(0))).toEqual({ exit: null, files: [], skipped: [], corrupt: false });
  });
});

describe('isPlainFileName', () => {
  it.each([
    ['report.csv', true],
    ['a b.txt', true],
    ['', false],
    ['.', false],
    ['..', false],
    ['a/b', false],
    ['a\\b', false],
    ['bad\nname', false],
    ['x'.repeat(201), false],
  ])('%j -> %s', (name, ok) => {
    expect(isPlainFileName(name)).toBe(ok);
  });
});
