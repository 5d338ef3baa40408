import { describe, expect, it } from 'vitest';
import { evaluate } from './__fixtures__/fake-tools.js';
import { findComputations, toExpression } from './expression.js';

describe('toExpression', () => {
  // [wording, exact expression, the value the wording asks for]
  const cases: Array<[string, string, number]> = [
    ['What is 15% of 2400 plus 12?', '15 / 100 * 2400 + 12', 372],
    ['compute the average of 3, 5 and 10', 'mean(3, 5, 10)', 6],
    ['square root of 144', 'sqrt(144)', 12],
    ['2^10 - 24', '2 ^ 10 - 24', 1000],
    ['2^10-24', '2 ^ 10 - 24', 1000],
    ['What is 12 times 7 divided by 3?', '12 * 7 / 3', 28],
    ['100 minus 58 plus 7', '100 - 58 + 7', 49],
    ['What is 5 squared plus 3 cubed?', '5 ^ 2 + 3 ^ 3', 52],
    ['What is the median of 7, 1 and 4?', 'median(7, 1, 4)', 4],
    ['What is the sum of 1,200 and 800?', 'sum(1200, 800)', 2000],
    ['What is the total of 120, 80, and 45.5?', 'sum(120, 80, 45.5)', 245.5],
    ['Calculate 2 ** 8', '2 ** 8', 256],
    ['what percentage of 80 is 20', '20 / 80 * 100', 25],
    ['increase 200 by 15%', '200 * (1 + 15 / 100)', 230],
    ['factorial of 5', 'factorial(5)', 120],
    ['What is the 50th percentile of 1, 2, 3, 4, 5?', 'percentile([1, 2, 3, 4, 5], 50)', 3],
    ['What is (2 + 3) squared?', '(2 + 3) ^ 2', 25],
    ['2 to the power of 10', '2 ^ 10', 1024],
    ['What is 2400 * 15%?', '2400 * (15 / 100)', 360],
    ['subtract 4 from 10', '10 - 4', 6],
    ['what is 3.5 x 2', '3.5 * 2', 7],
    ['What is -3 plus 5?', '-3 + 5', 2],
  ];

  it.each(cases)('%s → %s', (wording, expression, value) => {
    expect(toExpression(wording)).toBe(expression);
    expect(evaluate(expression)).toBeCloseTo(value, 10);
  });

  it.each([
    'Summarize the 2023-2024 budget',
    'Research covid-19 policy',
    'Research our 24/7 support',
    'Compare PostgreSQL 16 and Redis 7',
    'Research the top 10% of customers',
    'Write a 500-word summary',
    'Analyze sales.csv by region',
    'What do our documents say about vacation policy?',
  ])('finds no computation in %s', (wording) => {
    expect(toExpression(wording)).toBeNull();
  });
});

describe('findComputations', () => {
  it('keeps one computation per clause with its wording', () => {
    expect(findComputations(['Research vacation policy', 'compute 15% of 2400'])).toEqual([
      { expression: '15 / 100 * 2400', wording: 'compute 15% of 2400' },
    ]);
  });
});
