/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.tsx?$': ['ts-jest', { diagnostics: false }] },
  moduleNameMapper: { '^#cds-models/(.*)$': '<rootDir>/@cds-models/$1' },
  setupFiles: ['<rootDir>/test/setup-env.js'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // the browser tests of the Fiori apps (test/ui, ~3 minutes) are left out with UI_TESTS=0
  testPathIgnorePatterns: ['/node_modules/', ...(process.env.UI_TESTS === '0' ? ['<rootDir>/test/ui/'] : [])],
  testTimeout: 60000,
  maxWorkers: 2
}
