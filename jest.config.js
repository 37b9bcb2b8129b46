/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.tsx?$': ['ts-jest', { diagnostics: false }] },
  moduleNameMapper: { '^#cds-models/(.*)$': '<rootDir>/@cds-models/$1' },
  setupFiles: ['<rootDir>/test/setup-env.js'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 60000,
  maxWorkers: 2
}
