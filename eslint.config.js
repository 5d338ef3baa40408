import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'data/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    files: ['src/engine/**/*.ts'],
    rules: {
      // The engine depends on contracts only; drivers are chosen in src/compose.ts.
      'no-restricted-imports': ['error', { patterns: ['pg', '@electric-sql/*', 'ioredis', 'fastify', '@ai-sdk/*', 'ai'] }],
    },
  },
);
