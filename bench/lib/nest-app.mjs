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

/**
 * The Nest HTTP adapter by name: `fastify` or `express`. `trustProxy` (addresses or CIDRs, e.g.
 * `'127.0.0.1'`) makes the framework's own `request.ip` the client named in `X-Forwarded-For` by those
 * proxies: Fastify's `trustProxy` option, Express's `trust proxy` setting.
 */
export async function createAdapter(adapterName, { trustProxy } = {}) {
  if (adapterName === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    return new FastifyAdapter(trustProxy ? { trustProxy } : undefined);
  }
  const { ExpressAdapter } = await import('@nestjs/platform-express');
  const adapter = new ExpressAdapter();
  if (trustProxy) adapter.set('trust proxy', trustProxy);
  return adapter;
}

/**
 * Listens on 127.0.0.1 (free port), runs `check(origin)` if given (a self-test of the routes, which
 * throws when the app does not answer as it should: the process then exits before reporting, and the
 * parent shows the error), sends `{ port, ...extra }` to the parent, and closes the app on SIGTERM.
 */
export async function listenAndReport(app, extra = {}, check) {
  await app.listen(0, '127.0.0.1');
  const port = app.getHttpServer().address().port;
  if (check) await check(`http://127.0.0.1:${port}`);
  process.send({ port, ...extra });
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

/**
 * One request for a self-test: `GET url` with `headers` must answer `status`, carry every header of
 * `hasHeaders` (a name, or `[name, pattern]`), and its JSON body must satisfy `body` when given.
 * Throws a message naming what differed; returns the response's headers.
 */
export async function expectAnswer(url, { headers = {}, status, hasHeaders = [], body }) {
  // fetch sets `Host` itself, from the URL (a signature covers the same value).
  const { host: _host, ...sent } = headers;
  const response = await fetch(url, { headers: sent });
  const text = await response.text();
  const problem = (what) =>
    new Error(`self-test: GET ${url} ${what}; answered ${response.status} ${text.slice(0, 300)}`);
  if (response.status !== status) throw problem(`should answer ${status}`);
  for (const entry of hasHeaders) {
    const [name, pattern] = Array.isArray(entry) ? entry : [entry];
    const value = response.headers.get(name);
    if (value === null || (pattern && !pattern.test(value))) {
      throw problem(`lacks the header ${name}${pattern ? ` ~ ${pattern}` : ''}`);
    }
  }
  if (body && !body(JSON.parse(text))) throw problem('has an unexpected body');
  return response.headers;
}
