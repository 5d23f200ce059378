/** Two projects: the Node side (server, sandbox, end-to-end) and the client store/adapters. */
const tsJest = (tsconfig) => ['ts-jest', { tsconfig, diagnostics: false }];

module.exports = {
  // Each PGlite instance runs initdb in memory (about 2 s), and end-to-end tests build bundles.
  testTimeout: 60_000,
  globalSetup: '<rootDir>/test/support/global-setup.js',
  projects: [
    {
      displayName: 'server',
      testEnvironment: 'node',
      roots: ['<rootDir>/test'],
      testMatch: ['<rootDir>/test/{server,sandbox,e2e}/**/*.test.ts'],
      transform: { '^.+\\.tsx?$': tsJest('<rootDir>/server/tsconfig.json') },
    },
    {
      displayName: 'client',
      testEnvironment: 'node',
      roots: ['<rootDir>/test'],
      testMatch: ['<rootDir>/test/client/**/*.test.{ts,tsx}'],
      transform: { '^.+\\.tsx?$': tsJest('<rootDir>/tsconfig.json') },
      moduleNameMapper: { '^@tarojs/taro$': '<rootDir>/test/client/doubles/taro.ts' },
    },
  ],
};
