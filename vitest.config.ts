import { defineConfig } from 'vitest/config';
import tsconfigPaths from 'vite-tsconfig-paths';

export default defineConfig({
  // Resolves `@app/security` to the library's TypeScript source, as in tsconfig.json.
  plugins: [tsconfigPaths()],
  test: {
    globals: true,
    root: './',
    include: ['libs/**/*.spec.ts', 'apps/**/*.spec.ts', 'test/**/*.e2e-spec.ts', 'libs/**/*.int-spec.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', 'bench/**'],
  },
});
