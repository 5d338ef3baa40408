import { describe, expect, it } from 'vitest';
import { PDF_FILE, SALES_FILE } from './__fixtures__/fake-tools.js';
import { task } from './__fixtures__/harness.js';
import { analyseTask, findComparison, findGroupHint } from './intent.js';

describe('analyseTask', () => {
  it.each([
    ['What do our documents say about vacation policy?', [], 'research'],
    ['Research the history of PGlite', [], 'research'],
    ['Analyze sales.csv', [SALES_FILE], 'csv'],
    ['What is 15% of 2400 plus 12?', [], 'compute'],
    ['Compare PostgreSQL and Redis for caching', [], 'compare'],
    ['Summarize our onboarding documents', [], 'summary'],
    ['Draft a welcome note for new hires', [PDF_FILE], 'fallback'],
  ] as const)('%s → %s', (input, files, kind) => {
    expect(analyseTask(task(input, [...files])).primary).toBe(kind);
  });

  it('sets computation clauses aside before looking for a topic', () => {
    const a = analyseTask(task('Research the vacation policy and compute 15% of 2400'));
    expect(a.primary).toBe('research');
    expect(a.topic).toBe('vacation policy');
    expect(a.computations).toEqual([{ expression: '15 / 100 * 2400', wording: 'compute 15% of 2400' }]);
  });

  it('notes CSV files the task names but does not attach', () => {
    expect(analyseTask(task('Analyze sales.csv')).missingFiles).toEqual(['sales.csv']);
    expect(analyseTask(task('Analyze sales.csv', [SALES_FILE])).missingFiles).toEqual([]);
  });
});

describe('findComparison', () => {
  it.each([
    ['Compare PostgreSQL and Redis for caching', ['PostgreSQL', 'Redis'], 'caching'],
    ['PostgreSQL vs. Redis: which is faster', ['PostgreSQL', 'Redis'], ''],
    ['What is the difference between Kafka and RabbitMQ', ['Kafka', 'RabbitMQ'], ''],
    ['Which is better for caching: PostgreSQL or Redis', ['PostgreSQL', 'Redis'], 'caching'],
    ['Should we use Vue or React for the dashboard', ['Vue', 'React'], 'dashboard'],
  ])('%s', (clause, subjects, aspect) => {
    expect(findComparison([clause])).toEqual({ subjects, aspect });
  });

  it('needs two different subjects', () => {
    expect(findComparison(['Compare Redis and Redis'])).toBeNull();
    expect(findComparison(['Research Redis'])).toBeNull();
  });
});

describe('findGroupHint', () => {
  it.each([
    ['analyze sales.csv by region', 'region'],
    ['show revenue per product category.', 'product category'],
    ['group by month and region', 'month'],
    ['totals for each store', 'store'],
    ['what is 10 divided by 2', null],
    ['sales made by our team', null],
  ])('%s → %s', (text, hint) => {
    expect(findGroupHint(text)).toBe(hint);
  });
});
