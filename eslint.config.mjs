// @ts-check
// The TypeScript sources with typescript-eslint's recommended and type-checked rules (npm run lint, part of npm test).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['@cds-models/**', 'gen/**', 'node_modules/**', 'app/**', 'examples/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' }
  },
  {
    // Tests assert on JSON documents read over HTTP (axios answers are untyped by nature): reading them is not
    // flagged; everything else, type-checked rules included, applies to tests as to the sources.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-explicit-any': 'off'
    }
  }
)
