// Shared by the HTTP benchmarks (child side): decorators applied by hand, as TypeScript would emit them,
// and the app listening on a free loopback port that is reported to the parent.

/** Applies method decorators to `Class.prototype[name]` (needs `reflect-metadata` loaded). */
export function decorateMethod(Class, name, decorators) {
  const proto = Class.prototype;
  Object.defineProperty(
    proto,
    name,
    Reflect.decorate(decorators, proto, name, Object.getOwnPropertyDescriptor(proto, name)),
  );
}

/** The Nest HTTP adapter by name: `fastify` or `express`. */
export async function createAdapter(adapterName) {
  if (adapterName === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    return new FastifyAdapter();
  }
  const { ExpressAdapter } = await import('@nestjs/platform-express');
  return new ExpressAdapter();
}

/**
 * Listens on 127.0.0.1 (free port), sends `{ port, ...extra }` to the parent, and closes the app on
 * SIGTERM.
 */
export async function listenAndReport(app, extra = {}) {
  await app.listen(0, '127.0.0.1');
  process.send({ port: app.getHttpServer().address().port, ...extra });
  process.on('SIGTERM', () => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

/**
 * Seeds a service principal with a `viewer` role of `permissions` and one API key through the library's
 * own services (`{ Principals, ApiKeys }` from the compiled library), then `listenAndReport`s the key.
 */
export async function seedKeyAndListen(app, { Principals, ApiKeys }, permissions) {
  const actor = { label: 'bench' };
  const principals = app.get(Principals);
  await principals.defineRole('viewer', permissions, actor);
  const owner = await principals.create({ username: 'bench-service', kind: 'service', roles: ['viewer'] }, actor);
  const issued = await app.get(ApiKeys).create({ ownerId: owner.id, name: 'bench' }, actor);
  await listenAndReport(app, { key: issued.key, principalId: owner.id });
}
