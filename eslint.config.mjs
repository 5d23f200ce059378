// ESLint for the whole repository: `npm run lint` (and so `npm test`) runs it with no warnings allowed.
// Formatting belongs to Prettier (.prettierrc); eslint-config-prettier, last, turns off every rule
// that would disagree with it.
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig, globalIgnores, includeIgnoreFile } from 'eslint/config';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const root = fileURLToPath(new URL('.', import.meta.url));

/** The TypeScript files of the two projects, linted with their types (see `typedRules`). */
const TYPED = [
  'server/**/*.ts',
  'test/**/*.{ts,tsx}',
  'bench/**/*.ts',
  'src/**/*.{ts,tsx}',
  'config/**/*.ts',
  'types/**/*.ts',
];

/**
 * Type-aware rules for mistakes the compiler lets through and that lose errors or requests at run
 * time: a promise nobody awaits (its rejection is unhandled, the work may outlive the request), an
 * async function where a callback's result is ignored (an event emitter, `setTimeout`, a `forEach`),
 * `await` on a value that is not a promise, `return promise` inside `try` (its rejection skips the
 * `catch`), an object printed as "[object Object]", a throw of something that has no stack.
 */
const typedRules = {
  '@typescript-eslint/no-floating-promises': 'error',
  '@typescript-eslint/no-misused-promises': 'error',
  '@typescript-eslint/await-thenable': 'error',
  '@typescript-eslint/no-for-in-array': 'error',
  '@typescript-eslint/no-implied-eval': 'error',
  '@typescript-eslint/no-base-to-string': 'error',
  '@typescript-eslint/only-throw-error': 'error',
  '@typescript-eslint/return-await': ['error', 'error-handling-correctness-only'],
};

export default defineConfig(
  // Build output, data and caches (dist/, .data/, coverage/, …), and the committed benchmark results.
  includeIgnoreFile(fileURLToPath(new URL('.gitignore', import.meta.url)), '.gitignore'),
  globalIgnores(['bench/results/']),

  js.configs.recommended,
  tseslint.configs.recommended,

  {
    name: 'project/typed',
    files: TYPED,
    // bench/hello-world is a separate Taro app that neither tsconfig includes (server/tsconfig.json
    // excludes it); it is linted without types below.
    ignores: ['bench/hello-world/**'],
    languageOptions: {
      parserOptions: {
        // Two programs, not the project service: test/server, test/sandbox, test/e2e, test/support
        // and bench/ belong to server/tsconfig.json, which is not the tsconfig nearest to them.
        project: ['./tsconfig.json', './server/tsconfig.json'],
        tsconfigRootDir: root,
      },
    },
    rules: typedRules,
  },

  {
    name: 'project/style',
    rules: {
      // Leaving a key out of a copy is written `const { sign: _sign, ...rest } = signed`.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  {
    // The wx / tt doubles and the tests' payment sheets fail as the platforms do: they reject
    // with a plain `{errMsg}` object, never an Error, and the client must cope with exactly that.
    name: 'project/platform-failures',
    files: ['test/**'],
    rules: { '@typescript-eslint/only-throw-error': 'off' },
  },

  {
    name: 'project/node',
    files: ['server/**', 'test/**', 'bench/**', 'config/**', '*.{js,mjs,cjs}'],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    name: 'project/commonjs',
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
  },
  {
    name: 'project/jest',
    files: ['test/**'],
    languageOptions: { globals: { ...globals.jest } },
  },
  {
    // The client runs in the mini-program's JS engine: no DOM, but timers, console and the
    // `wx` / `tt` globals, which types/ declares for TypeScript.
    name: 'project/client',
    files: ['src/**', 'bench/hello-world/src/**'],
    languageOptions: { globals: { ...globals['shared-node-browser'] } },
  },
  {
    name: 'project/react-hooks',
    files: ['src/**/*.{ts,tsx}', 'bench/hello-world/src/**/*.{ts,tsx}'],
    ...reactHooks.configs.flat.recommended,
  },

  prettier,
);
