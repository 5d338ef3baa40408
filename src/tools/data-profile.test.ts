import { describe, it, expect } from 'vitest';
import type { AppError } from '../errors.js';
import { dataProfileTool, detectDelimiter, parseDate } from './data-profile.js';
import type { DataProfileOutput, ColumnProfile } from './data-profile.js';
import { createToolRegistry } from './index.js';
import type { FileAccess, ToolContext } from './types.js';
import { appErrorOf, memoryFiles, toolContext } from '../../test/support/tool-context.js';

function context(files: FileAccess, signal?: AbortSignal): ToolContext {
  return toolContext({ files, signal });
}

const PEOPLE = [
  'id,name,age,score,active,joined,city',
  '1,Alice,30,88.5,true,2024-01-15,Paris',
  '2,Bob,25,92,false,2023-06-01,London',
  '3,Carol,,75.25,TRUE,2024-03-10,Paris',
  '4,Dan,40,NA,false,2022-11-30,Berlin',
  '5,Eve,35,60,true,,Paris',
].join('\n');

const SALES = [
  'region,product,units,price',
  'North,A,10,2.5',
  'South,B,5,4',
  'North,B,7,4',
  'East,A,,2.5',
  'South,A,3,2.5',
  'North,A,1,2.5',
].join('\n');

const MANY_GROUPS = ['key,value', ...Array.from({ length: 250 }, (_, i) => `k${String(i).padStart(3, '0')},${i}`)].join('\n');

const FILES: Record<string, string | Buffer> = {
  people: PEOPLE,
  sales: SALES,
  many_groups: MANY_GROUPS,
  missing: 'a,b\n1,x\nNA,N/A\n null ,nan\n,NaN\n3,y\n',
  semicolon: 'name;amount;note\n"Smith; John";12.5;"said ""hi"""\nDoe;7;plain\n',
  tab: 'city\tpopulation\nParis\t2148000\nLyon\t513000\n',
  pipe: 'a|b\n1|2\n3|4\n',
  quoted: 'name,age,address\n"Smith, John",42,"1 Main St, Springfield"\n"Doe, Jane",37,"line one\nline two"\n',
  malformed: 'a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n',
  bom: '\uFEFFid,value\n1,10\n2,20\n',
  numbers: 'n,x\n-1.5,+3\n2e3,.5\n 7 ,1E-2\n',
  dates: 'at\n2024-05-01T10:00:00Z\n2024-05-01 08:30\n2023-12-31\n',
  header_only: 'a,b\n',
  odd_header: 'x,,x\n1,2,3\n',
  hostile: '__proto__,constructor,group\n1,2,a\n3,4,a\n5,,b\n',
  blank_column: 'g,note,v\ng1,,1\ng1,NA,2\ng2,,3\n',
  binary: Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x08, 0x00]),
  empty: '',
  blank: '\n \n\n',
  broken: 'a,b\n"unclosed,1\n2,3\n',
};

const registry = createToolRegistry([dataProfileTool]);

async function profile(args: Record<string, unknown>, files: FileAccess = memoryFiles(FILES)): Promise<DataProfileOutput> {
  return (await registry.invoke('data_profile', args, context(files))) as DataProfileOutput;
}

async function failure(args: Record<string, unknown>, files: FileAccess = memoryFiles(FILES)): Promise<AppError> {
  return appErrorOf(registry.invoke('data_profile', args, context(files)));
}

function column(output: DataProfileOutput, name: string): ColumnProfile {
  const col = output.columns.find((c) => c.name === name);
  if (!col) throw new Error(`no column ${name}`);
  return col;
}

describe('data_profile: columns', () => {
  it('reports rows, delimiter, file name and inferred types', async () => {
    const out = await profile({ file_id: 'people' });
    expect(out).toMatchObject({ file_id: 'people', file_name: 'people.csv', rows: 5, malformed_rows: 0, delimiter: ',' });
    expect(out.columns.map((c) => [c.name, c.type])).toEqual([
      ['id', 'integer'],
      ['name', 'string'],
      ['age', 'integer'],
      ['score', 'number'],
      ['active', 'boolean'],
      ['joined', 'date'],
      ['city', 'string'],
    ]);
    expect(out.groups).toBeUndefined();
  });

  it('summarizes numeric columns', async () => {
    const out = await profile({ file_id: 'people' });
    expect(column(out, 'id')).toMatchObject({ count: 5, missing: 0, distinct: 5, min: 1, max: 5, sum: 15, mean: 3, median: 3 });
    expect(column(out, 'id').stdev).toBeCloseTo(Math.sqrt(2.5), 12);
    // age: 30, 25, 40, 35 and one empty field; squared deviations 6.25 + 56.25 + 56.25 + 6.25 = 125.
    const age = column(out, 'age');
    expect(age).toMatchObject({ count: 4, missing: 1, min: 25, max: 40, sum: 130, mean: 32.5, median: 32.5 });
    expect(age.stdev).toBeCloseTo(Math.sqrt(125 / 3), 12);
    // score: 88.5, 92, NA, 75.25, 60.
    expect(column(out, 'score')).toMatchObject({ count: 4, missing: 1, min: 60, max: 92, sum: 315.75, mean: 78.9375, median: 81.875 });
  });

  it('gives dates their min and max as strings and strings no numeric summary', async () => {
    const out = await profile({ file_id: 'people' });
    expect(column(out, 'joined')).toMatchObject({ count: 4, missing: 1, min: '2022-11-30', max: '2024-03-10' });
    const city = column(out, 'city');
    expect(city).not.toHaveProperty('min');
    expect(city).not.toHaveProperty('mean');
    expect(column(out, 'active')).not.toHaveProperty('sum');
  });

  it('lists top values by count, then value, up to `top`', async () => {
    const out = await profile({ file_id: 'people', top: 2 });
    expect(column(out, 'city').top).toEqual([
      { value: 'Paris', count: 3 },
      { value: 'Berlin', count: 1 },
    ]);
    expect(column(out, 'city').distinct).toBe(3);
    expect(column(out, 'active').top).toEqual([
      { value: 'false', count: 2 },
      { value: 'true', count: 2 },
    ]);
    const full = await profile({ file_id: 'people' });
    expect(column(full, 'name').top.map((t) => t.value)).toEqual(['Alice', 'Bob', 'Carol', 'Dan', 'Eve']);
  });

  it('returns sample rows verbatim, as many as asked', async () => {
    const out = await profile({ file_id: 'people', sample_rows: 2 });
    expect(out.sample).toEqual([
      { id: '1', name: 'Alice', age: '30', score: '88.5', active: 'true', joined: '2024-01-15', city: 'Paris' },
      { id: '2', name: 'Bob', age: '25', score: '92', active: 'false', joined: '2023-06-01', city: 'London' },
    ]);
    expect((await profile({ file_id: 'people' })).sample).toHaveLength(3);
    expect((await profile({ file_id: 'people', sample_rows: 0 })).sample).toEqual([]);
  });

  it('treats empty, NA, N/A, null and NaN as missing in any case', async () => {
    const out = await profile({ file_id: 'missing' });
    expect(out.rows).toBe(5);
    expect(column(out, 'a')).toMatchObject({ type: 'integer', count: 2, missing: 3, sum: 4, min: 1, max: 3 });
    expect(column(out, 'b')).toMatchObject({ type: 'string', count: 2, missing: 3, distinct: 2 });
  });

  it('reads signs, decimals, exponents and padded numbers', async () => {
    const out = await profile({ file_id: 'numbers' });
    expect(column(out, 'n')).toMatchObject({ type: 'number', min: -1.5, max: 2000, sum: 2005.5, median: 7 });
    expect(column(out, 'x')).toMatchObject({ type: 'number', min: 0.01, max: 3 });
    expect(column(out, 'x').sum).toBeCloseTo(3.51, 12);
  });

  it('compares dates with times and zones chronologically', async () => {
    const out = await profile({ file_id: 'dates' });
    expect(column(out, 'at')).toMatchObject({ type: 'date', min: '2023-12-31', max: '2024-05-01T10:00:00Z' });
    expect(parseDate('2024-02-30')).toBeUndefined();
    expect(parseDate('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
    expect(parseDate('2024-01-01T01:00+01:00')).toBe(Date.UTC(2024, 0, 1));
    expect(parseDate('01/02/2024')).toBeUndefined();
    expect(parseDate('2024-01-01 24:00')).toBeUndefined();
    expect(parseDate('0024-01-01')).toBeLessThan(parseDate('1924-01-01') as number);
    expect(parseDate('2024-03-01T12:30:15.250Z')).toBe(Date.UTC(2024, 2, 1, 12, 30, 15, 250));
  });

  it('profiles a header-only file as empty columns', async () => {
    const out = await profile({ file_id: 'header_only' });
    expect(out.rows).toBe(0);
    expect(out.columns).toEqual([
      { name: 'a', type: 'empty', count: 0, missing: 0, distinct: 0, top: [] },
      { name: 'b', type: 'empty', count: 0, missing: 0, distinct: 0, top: [] },
    ]);
  });

  it('names blank and repeated headers uniquely', async () => {
    const out = await profile({ file_id: 'odd_header' });
    expect(out.columns.map((c) => c.name)).toEqual(['x', 'column_2', 'x_2']);
  });
});

describe('data_profile: CSV dialects', () => {
  it('detects semicolons and keeps quoted delimiters and escaped quotes', async () => {
    const out = await profile({ file_id: 'semicolon' });
    expect(out.delimiter).toBe(';');
    expect(out.rows).toBe(2);
    expect(out.sample[0]).toEqual({ name: 'Smith; John', amount: '12.5', note: 'said "hi"' });
    expect(column(out, 'amount')).toMatchObject({ type: 'number', sum: 19.5 });
  });

  it('detects tabs and pipes', async () => {
    const tab = await profile({ file_id: 'tab' });
    expect(tab.delimiter).toBe('\t');
    expect(column(tab, 'population')).toMatchObject({ type: 'integer', sum: 2661000, max: 2148000 });
    const pipe = await profile({ file_id: 'pipe' });
    expect(pipe.delimiter).toBe('|');
    expect(column(pipe, 'b').sum).toBe(6);
  });

  it('keeps quoted commas and newlines inside fields', async () => {
    const out = await profile({ file_id: 'quoted' });
    expect(out.rows).toBe(2);
    expect(out.malformed_rows).toBe(0);
    expect(out.sample[0]).toEqual({ name: 'Smith, John', age: '42', address: '1 Main St, Springfield' });
    expect(out.sample[1]?.address).toBe('line one\nline two');
    expect(column(out, 'age')).toMatchObject({ type: 'integer', mean: 39.5 });
  });

  it('counts and skips rows with the wrong number of fields', async () => {
    const out = await profile({ file_id: 'malformed' });
    expect(out.rows).toBe(2);
    expect(out.malformed_rows).toBe(2);
    expect(column(out, 'a')).toMatchObject({ sum: 11, count: 2 });
  });

  it('strips a byte order mark', async () => {
    const out = await profile({ file_id: 'bom' });
    expect(out.columns.map((c) => c.name)).toEqual(['id', 'value']);
    expect(column(out, 'id').type).toBe('integer');
  });

  it('detects the delimiter from the header line only, ignoring quoted ones', () => {
    expect(detectDelimiter('"a;b;c",d\n1;2;3;4;5')).toBe(',');
    expect(detectDelimiter('single\n1')).toBe(',');
    expect(detectDelimiter('a;b,c;d\n')).toBe(';');
  });
});

describe('data_profile: group_by', () => {
  it('defaults to sum and mean of every numeric column', async () => {
    const out = await profile({ file_id: 'sales', group_by: 'region' });
    expect(out.groups).toEqual({
      by: 'region',
      truncated: false,
      total_groups: 3,
      rows: [
        { key: 'North', count: 3, values: { 'sum(units)': 18, 'mean(units)': 6, 'sum(price)': 9, 'mean(price)': 3 } },
        { key: 'South', count: 2, values: { 'sum(units)': 8, 'mean(units)': 4, 'sum(price)': 6.5, 'mean(price)': 3.25 } },
        { key: 'East', count: 1, values: { 'sum(units)': null, 'mean(units)': null, 'sum(price)': 2.5, 'mean(price)': 2.5 } },
      ],
    });
  });

  it('computes the requested aggregates', async () => {
    const out = await profile({
      file_id: 'sales',
      group_by: 'product',
      aggregates: [
        { column: 'units', op: 'max' },
        { column: 'units', op: 'median' },
        { column: 'units', op: 'count' },
        { column: 'price', op: 'min' },
        { column: 'region', op: 'count' },
      ],
    });
    expect(out.groups?.rows).toEqual([
      { key: 'A', count: 4, values: { 'max(units)': 10, 'median(units)': 3, 'count(units)': 3, 'min(price)': 2.5, 'count(region)': 4 } },
      { key: 'B', count: 2, values: { 'max(units)': 7, 'median(units)': 6, 'count(units)': 2, 'min(price)': 4, 'count(region)': 2 } },
    ]);
  });

  it('matches column names case-insensitively when unambiguous', async () => {
    const out = await profile({ file_id: 'sales', group_by: 'REGION', aggregates: [{ column: 'Units', op: 'sum' }] });
    expect(out.groups?.by).toBe('region');
    expect(out.groups?.rows[0]).toEqual({ key: 'North', count: 3, values: { 'sum(units)': 18 } });
  });

  it('caps the groups at 200, largest first, and says so', async () => {
    const out = await profile({ file_id: 'many_groups', group_by: 'key', aggregates: [{ column: 'value', op: 'sum' }] });
    expect(out.groups?.rows).toHaveLength(200);
    expect(out.groups?.truncated).toBe(true);
    expect(out.groups?.total_groups).toBe(250);
    expect(out.groups?.rows[0]).toEqual({ key: 'k000', count: 1, values: { 'sum(value)': 0 } });
    expect(out.groups?.rows[199]?.key).toBe('k199');
  });

  it('leaves the group_by column out of the default aggregates and reports empty columns as null', async () => {
    const out = await profile({
      file_id: 'blank_column',
      group_by: 'g',
      aggregates: [
        { column: 'note', op: 'sum' },
        { column: 'note', op: 'count' },
        { column: 'v', op: 'median' },
      ],
    });
    expect(out.groups?.rows).toEqual([
      { key: 'g1', count: 2, values: { 'sum(note)': null, 'count(note)': 0, 'median(v)': 1.5 } },
      { key: 'g2', count: 1, values: { 'sum(note)': null, 'count(note)': 0, 'median(v)': 3 } },
    ]);
    const byNumber = await profile({ file_id: 'sales', group_by: 'units' });
    expect(Object.keys(byNumber.groups?.rows[0]?.values ?? {})).toEqual(['sum(price)', 'mean(price)']);
    // All groups have one row, so they sort by key; the row with a missing units value has the key "".
    expect(byNumber.groups?.rows.map((r) => r.key)).toEqual(['', '1', '10', '3', '5', '7']);
    expect(byNumber.groups?.rows[0]).toEqual({ key: '', count: 1, values: { 'sum(price)': 2.5, 'mean(price)': 2.5 } });
  });

  it('handles header names that are JavaScript prototype keys without polluting anything', async () => {
    const out = await profile({ file_id: 'hostile', group_by: 'group', aggregates: [{ column: '__proto__', op: 'sum' }] });
    expect(out.columns.map((c) => [c.name, c.sum])).toEqual([
      ['__proto__', 9],
      ['constructor', 6],
      ['group', undefined],
    ]);
    expect(out.groups?.rows).toEqual([
      { key: 'a', count: 2, values: { 'sum(__proto__)': 4 } },
      { key: 'b', count: 1, values: { 'sum(__proto__)': 5 } },
    ]);
    expect(Object.prototype).not.toHaveProperty('group');
    expect(({} as Record<string, unknown>).constructor).toBe(Object);
  });

  it('rejects an unknown group_by column, listing the available ones', async () => {
    const err = await failure({ file_id: 'sales', group_by: 'country' });
    expect(err.code).toBe('TOOL_ERROR');
    expect(err.message).toBe('Unknown column "country" in group_by. Available columns: region, product, units, price');
  });

  it('rejects an unknown aggregate column', async () => {
    const err = await failure({ file_id: 'sales', group_by: 'region', aggregates: [{ column: 'cost', op: 'sum' }] });
    expect(err.code).toBe('TOOL_ERROR');
    expect(err.message).toMatch(/Unknown column "cost" in aggregates\. Available columns: region, product, units, price/);
  });

  it('rejects numeric aggregates of non-numeric columns, naming the column', async () => {
    const err = await failure({ file_id: 'sales', group_by: 'region', aggregates: [{ column: 'product', op: 'mean' }] });
    expect(err.code).toBe('TOOL_ERROR');
    expect(err.message).toMatch(/Cannot compute mean of column "product": its values are string/);
  });

  it('rejects an unknown aggregate op through the schema', async () => {
    const err = await failure({ file_id: 'sales', group_by: 'region', aggregates: [{ column: 'units', op: 'avg' }] });
    expect(err.code).toBe('TOOL_INPUT_INVALID');
  });
});

describe('data_profile: bad files and input', () => {
  it('refuses binary files', async () => {
    const err = await failure({ file_id: 'binary' });
    expect(err.code).toBe('TOOL_ERROR');
    expect(err.message).toMatch(/binary.*not a CSV/);
  });

  it('refuses empty files', async () => {
    for (const id of ['empty', 'blank']) {
      const err = await failure({ file_id: id });
      expect(err.code).toBe('TOOL_ERROR');
      expect(err.message).toMatch(/is empty/);
    }
  });

  it('refuses text that is not valid CSV', async () => {
    const err = await failure({ file_id: 'broken' });
    expect(err.code).toBe('TOOL_ERROR');
    expect(err.message).toMatch(/could not be parsed as CSV/);
  });

  it('refuses files over 50 MB without reading them', async () => {
    let reads = 0;
    const files = memoryFiles(FILES, { sizes: { people: 60 * 1024 * 1024 }, onRead: () => (reads += 1) });
    const err = await failure({ file_id: 'people' }, files);
    expect(err.code).toBe('TOOL_ERROR');
    expect(err.message).toMatch(/60\.0 MB.*up to 50 MB/);
    expect(reads).toBe(0);
  });

  it('passes FILE_NOT_FOUND through', async () => {
    const err = await failure({ file_id: 'nope' });
    expect(err.code).toBe('FILE_NOT_FOUND');
  });

  it('validates top and sample_rows', async () => {
    expect((await failure({ file_id: 'people', top: 0 })).code).toBe('TOOL_INPUT_INVALID');
    expect((await failure({ file_id: 'people', top: 51 })).code).toBe('TOOL_INPUT_INVALID');
    expect((await failure({ file_id: 'people', sample_rows: 21 })).code).toBe('TOOL_INPUT_INVALID');
    expect((await failure({ file_id: '' })).code).toBe('TOOL_INPUT_INVALID');
  });
});

describe('data_profile: abort', () => {
  const BIG = ['n,label', ...Array.from({ length: 25_000 }, (_, i) => `${i},row${i % 7}`)].join('\n');

  it('stops when the caller aborts', async () => {
    const controller = new AbortController();
    const files = memoryFiles({ big: BIG }, { onRead: () => controller.abort(new Error('cancelled by test')) });
    await expect(registry.invoke('data_profile', { file_id: 'big' }, context(files, controller.signal))).rejects.toThrow(
      'cancelled by test',
    );
  });

  it('notices an abort that fires while rows are being processed', async () => {
    const controller = new AbortController();
    const reason = new Error('aborted mid-way');
    // The abort runs on the first turn of the event loop, which the tool only gives up mid-profile.
    const files = memoryFiles({ big: BIG }, { onRead: () => setImmediate(() => controller.abort(reason)) });
    await expect(dataProfileTool.run({ file_id: 'big' }, context(files, controller.signal))).rejects.toBe(reason);
  });

  it('profiles the same large file when not aborted', async () => {
    const out = await dataProfileTool.run({ file_id: 'big' }, context(memoryFiles({ big: BIG })));
    expect(out.rows).toBe(25_000);
    expect(column(out, 'n')).toMatchObject({ type: 'integer', min: 0, max: 24_999, sum: (24_999 * 25_000) / 2 });
    expect(column(out, 'label').distinct).toBe(7);
  });
});
