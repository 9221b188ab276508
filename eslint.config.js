// @ts-check
// `npm run lint` (run by `npm test`): typescript-eslint's recommended rules, and the type-aware checks
// for promises nobody awaits or that are passed where a callback returns nothing.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'dist-tools/', 'node_modules/', '.bench/', 'coverage/'] },
  eslint.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    rules: {
      // A leading underscore names what is deliberately unused (a skipped element, an ignored argument).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    // Size limits for src/ and tools/, counted without blank lines and comments (the code base explains
    // itself in comments, which should not push a file over). Tests are exempt: a test file is a list
    // of cases, and a describe() callback holding them grows with the cases, not with its logic.
    files: ['src/**/*.ts', 'tools/**/*.ts'],
    rules: {
      'max-lines': ['error', { max: 500, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['error', { max: 100, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    // Temporary exceptions, each with its reason. Remove a line when its file is under the limits.
    // The migration planner (a class whose methods share its state) is 561 lines after the split into
    // src/schema/kinds/ (issue 22 item 4); its release/final statements are the next to move out.
    files: ['src/schema/sql.ts'],
    rules: { 'max-lines': 'off' },
  },
  {
    // Functions over 100 lines that are one list of routes or tools, each a few lines (addAdminRoutes,
    // createMcpServer), and the agent bench's one sequence of measured steps (agentSuite). To be split
    // by resource (issue 22 item 5).
    files: ['src/server/admin-api.ts', 'src/mcp/server.ts', 'tools/bench/agent-bench.ts'],
    rules: { 'max-lines-per-function': 'off' },
  },
  {
    files: ['test/**'],
    // Tests match what a terminal was sent, escape sequences (ESC [ K) included, on purpose.
    rules: { 'no-control-regex': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', URL: 'readonly', console: 'readonly' } },
  },
);
