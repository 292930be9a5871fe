interface ExpressLike {
  readonly router?: { readonly stack?: Array<{ readonly handle?: { readonly name?: string } }> };
}

/**
 * Moves the named middleware layers of an Express app to the front of its stack, in the order given.
 * Modules are configured at `app.init()`, after whatever was added to the app before it
 * (`SwaggerModule.setup()`, `app.use()` in main.ts): without this, those answer with no request id,
 * security headers or CORS headers. A no-op on Fastify (hooks run before any route) or for absent names.
 */
export function moveLayersToFront(express: ExpressLike, names: readonly string[]): void {
  const stack = express.router?.stack;
  if (!stack) return;
  const layers = [];
  for (const name of names) {
    const index = stack.findIndex((layer) => layer.handle?.name === name);
    if (index >= 0) layers.push(...stack.splice(index, 1));
  }
  stack.unshift(...layers);
}

/** The names `moveLayersToFront` looks for, in pipeline order. */
export const FIRST_LAYERS = ['securityRequestId', 'securityHeaders', 'securityCors'] as const;
