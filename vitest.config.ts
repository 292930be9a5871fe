import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Resolves `@app/security` to the library's TypeScript source, as tsconfig.json's `paths` say.
  resolve: { tsconfigPaths: true },
  test: {
    globals: true,
    root: './',
    include: ['libs/**/*.spec.ts', 'libs/**/*.int-spec.ts', 'apps/**/*.spec.ts', 'test/**/*.e2e-spec.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', 'bench/**'],
  },
});
