import { describe, it, expect } from 'vitest';
import { AppError } from '../errors.js';
import { calculatorTool, evaluateExpression } from './calculator.js';
import { createToolRegistry } from './index.js';
import { appErrorOf, toolContext } from '../../test/support/tool-context.js';

const registry = createToolRegistry([calculatorTool]);

async function calc(expression: string, variables?: Record<string, number>): Promise<number> {
  const args = variables ? { expression, variables } : { expression };
  const output = (await registry.invoke('calculator', args, toolContext())) as { expression: string; result: number };
  expect(output.expression).toBe(expression);
  return output.result;
}

/** The AppError an expression fails with. */
async function failure(expression: string, variables?: Record<string, number>): Promise<AppError> {
  const args = variables ? { expression, variables } : { expression };
  return appErrorOf(registry.invoke('calculator', args, toolContext()));
}

async function expectToolError(expression: string, message: RegExp): Promise<AppError> {
  const err = await failure(expression);
  expect(err.code).toBe('TOOL_ERROR');
  expect(err.message).toMatch(message);
  return err;
}

describe('calculator: arithmetic', () => {
  it('applies precedence: * / % before + -', async () => {
    expect(await calc('1 + 2 * 3')).toBe(7);
    expect(await calc('(1 + 2) * 3')).toBe(9);
    expect(await calc('10 - 4 / 2')).toBe(8);
    expect(await calc('2 + 10 % 4')).toBe(4);
    expect(await calc('7 % 3 * 2')).toBe(2);
  });

  it('is left-associative for - and /', async () => {
    expect(await calc('10 - 4 - 3')).toBe(3);
    expect(await calc('100 / 10 / 5')).toBe(2);
    expect(await calc('2 * 3 / 4 * 2')).toBe(3);
  });

  it('is right-associative for ^ and **, which bind tighter than unary minus', async () => {
    expect(await calc('2 ^ 3 ^ 2')).toBe(512);
    expect(await calc('2 ** 3 ** 2')).toBe(512);
    expect(await calc('(2 ^ 3) ^ 2')).toBe(64);
    expect(await calc('-2 ^ 2')).toBe(-4);
    expect(await calc('(-2) ^ 2')).toBe(4);
    expect(await calc('2 ^ -1')).toBe(0.5);
    expect(await calc('2 * 3 ^ 2')).toBe(18);
  });

  it('handles unary signs', async () => {
    expect(await calc('-3 + 5')).toBe(2);
    expect(await calc('+3')).toBe(3);
    expect(await calc('--3')).toBe(3);
    expect(await calc('4 * -2')).toBe(-8);
    expect(await calc('-(2 + 3)')).toBe(-5);
  });

  it('reads decimals and exponent notation', async () => {
    expect(await calc('0.1 + 0.2')).toBeCloseTo(0.3, 15);
    expect(await calc('.5 * 4')).toBe(2);
    expect(await calc('1.5e3')).toBe(1500);
    expect(await calc('2E-2')).toBe(0.02);
    expect(await calc('1e+2')).toBe(100);
  });

  it('computes modulo with the sign of the dividend', async () => {
    expect(await calc('17 % 5')).toBe(2);
    expect(await calc('-7 % 3')).toBe(-1);
    expect(await calc('5.5 % 2')).toBe(1.5);
  });

  it('supports "x% of y"', async () => {
    expect(await calc('15% of 80')).toBe(12);
    expect(await calc('10% of 200 + 5')).toBe(25);
  });

  it('knows pi and e, case-insensitively', async () => {
    expect(await calc('pi')).toBe(Math.PI);
    expect(await calc('PI * 2')).toBe(2 * Math.PI);
    expect(await calc('E')).toBe(Math.E);
  });

  it('uses variables case-insensitively, shadowing constants', async () => {
    expect(await calc('price * qty', { price: 12.5, qty: 4 })).toBe(50);
    expect(await calc('PRICE + Price', { price: 2 })).toBe(4);
    expect(await calc('e * 2', { e: 10 })).toBe(20);
  });

  it('never returns -0', async () => {
    expect(Object.is(await calc('-0'), 0)).toBe(true);
    expect(Object.is(await calc('0 * -5'), 0)).toBe(true);
  });
});

describe('calculator: functions', () => {
  it('computes roots, abs and powers', async () => {
    expect(await calc('sqrt(16)')).toBe(4);
    expect(await calc('cbrt(-27)')).toBe(-3);
    expect(await calc('abs(-4.5)')).toBe(4.5);
    expect(await calc('pow(2, 10)')).toBe(1024);
  });

  it('rounds half away from zero, with optional digits', async () => {
    expect(await calc('round(2.5)')).toBe(3);
    expect(await calc('round(-2.5)')).toBe(-3);
    expect(await calc('round(3.14159, 2)')).toBe(3.14);
    expect(await calc('round(1.005, 2)')).toBe(1.01);
    expect(await calc('round(1234.5, -2)')).toBe(1200);
    expect(await calc('floor(-1.5)')).toBe(-2);
    expect(await calc('ceil(1.2)')).toBe(2);
  });

  it('computes logarithms and exponentials', async () => {
    expect(await calc('log(1000)')).toBe(3);
    expect(await calc('log(8, 2)')).toBe(3);
    expect(await calc('ln(e)')).toBe(1);
    expect(await calc('log2(1024)')).toBe(10);
    expect(await calc('exp(0)')).toBe(1);
    expect(await calc('exp(1)')).toBe(Math.E);
  });

  it('computes trigonometry in radians', async () => {
    expect(await calc('sin(pi / 2)')).toBe(1);
    expect(await calc('cos(0)')).toBe(1);
    expect(await calc('tan(pi / 4)')).toBeCloseTo(1, 12);
    expect(await calc('asin(1)')).toBe(Math.PI / 2);
    expect(await calc('acos(1)')).toBe(0);
    expect(await calc('atan(1) * 4')).toBe(Math.PI);
  });

  it('computes factorials up to 170', async () => {
    expect(await calc('factorial(0)')).toBe(1);
    expect(await calc('factorial(5)')).toBe(120);
    expect(await calc('factorial(10)')).toBe(3628800);
    expect(Number.isFinite(await calc('factorial(170)'))).toBe(true);
  });

  it('accepts names in any case', async () => {
    expect(await calc('SQRT(9) + Max(1, 2)')).toBe(5);
  });
});

describe('calculator: statistics', () => {
  // Data set 2,4,4,4,5,5,7,9: sum 40, mean 5, squared deviations sum 32,
  // population variance 32/8 = 4, sample variance 32/7.
  const data = '2, 4, 4, 4, 5, 5, 7, 9';

  it('sums, counts and averages arguments or a list', async () => {
    expect(await calc(`sum(${data})`)).toBe(40);
    expect(await calc(`sum([${data}])`)).toBe(40);
    expect(await calc(`count([${data}])`)).toBe(8);
    expect(await calc(`mean([${data}])`)).toBe(5);
    expect(await calc(`avg(${data})`)).toBe(5);
    expect(await calc(`average([1, 2], 3, [4])`)).toBe(2.5);
    expect(await calc('sum([])')).toBe(0);
    expect(await calc('count([])')).toBe(0);
  });

  it('computes median, mode, min, max and range', async () => {
    expect(await calc('median(3, 1, 2)')).toBe(2);
    expect(await calc('median([4, 1, 3, 2])')).toBe(2.5);
    expect(await calc(`mode(${data})`)).toBe(4);
    expect(await calc('mode(3, 3, 1, 1, 2)')).toBe(1); // ties go to the smallest value
    expect(await calc(`min(${data})`)).toBe(2);
    expect(await calc(`max([${data}])`)).toBe(9);
    expect(await calc(`range(${data})`)).toBe(7);
  });

  it('computes sample and population spread', async () => {
    expect(await calc(`pvariance(${data})`)).toBe(4);
    expect(await calc(`pstdev([${data}])`)).toBe(2);
    expect(await calc(`variance(${data})`)).toBeCloseTo(32 / 7, 12);
    expect(await calc(`stdev(${data})`)).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(await calc(`std([${data}])`)).toBeCloseTo(2.138089935299395, 12);
    expect(await calc('variance(1, 2, 3, 4)')).toBeCloseTo(5 / 3, 12);
  });

  it('computes percentiles with linear interpolation', async () => {
    expect(await calc('percentile([1, 2, 3, 4], 25)')).toBe(1.75);
    expect(await calc('percentile([1, 2, 3, 4], 50)')).toBe(2.5);
    expect(await calc('percentile([15, 20, 35, 40, 50], 40)')).toBe(29);
    expect(await calc('percentile([10, 20, 30], 0)')).toBe(10);
    expect(await calc('percentile([10, 20, 30], 100)')).toBe(30);
    expect(await calc('percentile([7], 90)')).toBe(7);
  });

  it('combines statistics with arithmetic', async () => {
    expect(await calc('max(1, 2) * mean([2, 4]) - min([5, 6])')).toBe(1);
    expect(await calc('sum([x, y, 3])', { x: 1, y: 2 })).toBe(6);
  });
});

describe('calculator: errors', () => {
  it('rejects unknown identifiers by name and position', async () => {
    const err = await expectToolError('2 * foo', /Unknown identifier 'foo' at position 5/);
    expect(err.details).toMatchObject({ identifier: 'foo', position: 5 });
    await expectToolError('sqrt + 1', /sqrt is a function/);
  });

  it('rejects unknown functions and lists the known ones', async () => {
    await expectToolError('bar(1)', /Unknown function 'bar' at position 1\. Known functions: .*sqrt/);
  });

  it('rejects wrong arity', async () => {
    await expectToolError('sqrt(1, 2)', /sqrt\(\) at position 1 takes 1 argument, got 2/);
    await expectToolError('pow(2)', /pow\(\) at position 1 takes 2 arguments, got 1/);
    await expectToolError('round(1, 2, 3)', /round\(\) at position 1 takes 1 to 2 arguments, got 3/);
    await expectToolError('sum()', /sum\(\) at position 1 takes at least 1 argument/);
    await expectToolError('percentile([1, 2])', /percentile\(\) at position 1 takes 2 arguments, got 1/);
  });

  it('rejects division and modulo by zero', async () => {
    await expectToolError('1 / 0', /Division by zero at position 3/);
    await expectToolError('5 % (2 - 2)', /Division by zero at position 3/);
  });

  it('rejects non-finite and undefined results', async () => {
    await expectToolError('1e308 * 10', /overflows/);
    await expectToolError('2 ^ 2000', /overflows/);
    await expectToolError('0 ^ -1', /overflows/);
    await expectToolError('sqrt(-1)', /sqrt\(\) at position 1 is undefined for these arguments/);
    await expectToolError('ln(0)', /ln\(\) at position 1 overflows/);
    await expectToolError('(-8) ^ (1/3)', /not a real number/);
    await expectToolError('exp(1000)', /exp\(\)/);
    await expectToolError('1e999', /too large/);
  });

  it('rejects bad statistics and function arguments', async () => {
    await expectToolError('stdev(5)', /stdev\(\) at position 1 needs at least 2 values, got 1/);
    await expectToolError('variance([1])', /needs at least 2 values/);
    await expectToolError('mean([])', /mean\(\) at position 1 needs at least 1 value, got 0/);
    await expectToolError('percentile([1, 2], 101)', /p from 0 to 100, got 101/);
    await expectToolError('percentile([], 50)', /needs at least 1 value/);
    await expectToolError('percentile([1], [2])', /second argument/);
    await expectToolError('factorial(171)', /factorial\(\) at position 1 needs an integer from 0 to 170, got 171/);
    await expectToolError('factorial(2.5)', /needs an integer/);
    await expectToolError('factorial(-1)', /needs an integer/);
    await expectToolError('round(1, 0.5)', /digits/);
    await expectToolError('sqrt([4])', /takes numbers, not a list/);
    await expectToolError('[1, 2] + 1', /list at position 1 can only be used as an argument/);
  });

  it('reports syntax errors with their position', async () => {
    await expectToolError('(1 + 2', /expected '\)' to close the '\(' at position 1 but found the end/);
    await expectToolError('1 +', /Syntax error: expected a number.*found the end of the expression/);
    await expectToolError('1 2', /found '2' at position 3/);
    await expectToolError('2 * * 3', /found '\*' at position 5/);
    await expectToolError(')', /found '\)' at position 1/);
    await expectToolError('max(1, 2', /close the call to max/);
    await expectToolError('[1, 2', /close the list at position 1/);
    await expectToolError('1.2.3', /Malformed number '1\.2\.' at position 1/);
    await expectToolError('2e', /Malformed number/);
    await expectToolError('3 # 4', /Unexpected character '#' at position 3/);
    await expectToolError('   ', /Syntax error/);
  });

  it('refuses thousands separators instead of misreading them', async () => {
    await expectToolError('1,234 + 1', /thousands separators are not supported/);
    await expectToolError('sum(1,000)', /leading zero; thousands separators are not supported/);
  });

  it('rejects nesting deeper than 100 levels', async () => {
    const ok = `${'('.repeat(100)}1${')'.repeat(100)}`;
    expect(await calc(ok)).toBe(1);
    await expectToolError(`${'('.repeat(101)}1${')'.repeat(101)}`, /nested more than 100 levels/);
    await expectToolError(`${'-'.repeat(150)}1`, /nested more than 100 levels/);
    await expectToolError(`${'sqrt('.repeat(120)}1${')'.repeat(120)}`, /nested more than 100 levels/);
    await expectToolError(`2${'^2'.repeat(150)}`, /nested more than 100 levels/);
  });

  it('rejects bad input through the schema', async () => {
    const empty = await failure('');
    expect(empty.code).toBe('TOOL_INPUT_INVALID');
    const long = await failure('1+'.repeat(1000) + '1');
    expect(long.code).toBe('TOOL_INPUT_INVALID');
    expect(long.message).toMatch(/expression/);
    const badVar = await failure('x', { 'x-y': 1 });
    expect(badVar.code).toBe('TOOL_INPUT_INVALID');
    const infinite = await failure('x', { x: Infinity });
    expect(infinite.code).toBe('TOOL_INPUT_INVALID');
  });

  it('rejects variables that differ only in case', async () => {
    const err = await failure('x', { x: 1, X: 2 });
    expect(err.code).toBe('TOOL_ERROR');
    expect(err.message).toMatch(/defined twice/);
  });
});

describe('calculator: hostile input', () => {
  it('treats JavaScript names as unknown identifiers', async () => {
    await expectToolError('constructor', /Unknown identifier 'constructor'/);
    await expectToolError('__proto__', /Unknown identifier '__proto__'/);
    await expectToolError('toString', /Unknown identifier 'tostring'/);
    await expectToolError('hasOwnProperty(1)', /Unknown function 'hasownproperty'/);
    await expectToolError('constructor(1)', /Unknown function 'constructor'/);
  });

  it('cannot reach the host', async () => {
    await expectToolError('process.exit(1)', /Unexpected character '\.' at position 8/);
    await expectToolError('globalThis', /Unknown identifier/);
    await expectToolError('require("fs")', /Unexpected character '"'/);
    await expectToolError('this', /Unknown identifier 'this'/);
    await expectToolError('x = 1', /Unexpected character '='/);
    await expectToolError('`1`', /Unexpected character '`'/);
  });

  it('refuses 10,000 nested parentheses without overflowing the stack', async () => {
    const deep = `${'('.repeat(10_000)}1${')'.repeat(10_000)}`;
    const viaTool = await failure(deep);
    expect(viaTool.code).toBe('TOOL_INPUT_INVALID'); // over the 2,000-character limit
    // The evaluator itself refuses it too, by token count before any recursion.
    expect(() => evaluateExpression(deep)).toThrow(/more than 10000 tokens/);
    const deepButShort = `${'('.repeat(4000)}1`;
    expect(() => evaluateExpression(deepButShort)).toThrow(/nested more than 100 levels/);
  });

  it('refuses more than 10,000 tokens but handles long flat sums', () => {
    expect(evaluateExpression(`${'1+'.repeat(4999)}1`)).toBe(5000);
    expect(() => evaluateExpression(`${'1+'.repeat(5000)}1`)).toThrow(AppError);
    expect(() => evaluateExpression(`${'1+'.repeat(5000)}1`)).toThrow(/more than 10000 tokens/);
  });
});
