/** End-to-end suites on real Kafka and Redis started once per run by Testcontainers (global-setup.ts). */
const path = require('path');
const root = path.resolve(__dirname, '..');
const swc = JSON.parse(require('fs').readFileSync(root + '/.swcrc', 'utf8'));
module.exports = {
  rootDir: root,
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testRegex: '.*\\.e2e-spec\\.ts$',
  transform: { '^.+\\.ts$': ['@swc/jest', { ...swc, swcrc: false }] },
  moduleNameMapper: { '^@app/(.*)$': '<rootDir>/libs/$1/src' },
  moduleFileExtensions: ['ts', 'js', 'json'],
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  setupFiles: ['<rootDir>/test/support/jest-setup.ts'],
  testTimeout: 300000,
};
