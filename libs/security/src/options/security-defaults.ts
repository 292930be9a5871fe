/** The defaults of every option, frozen. `resolveSecurityOptions` merges a user's options over them. */
export const SECURITY_DEFAULTS = Object.freeze({
  requestId: Object.freeze({ trustInbound: true }),
  authentication: Object.freeze({ nonHttpContexts: 'skip' as const }),
  problems: Object.freeze({ typeBaseUri: 'urn:problem-type:' }),
  apiKeys: Object.freeze({
    prefix: 'sk',
    environment: 'live' as const,
    queryParam: false as const,
    defaultExpiry: false as const,
  }),
  rateLimit: Object.freeze({
    policies: Object.freeze({ ip: '1000/60s', principal: '100/60s', login: '5/300s' }),
    onStoreError: 'local' as const,
    storeTimeout: '250ms',
    probeInterval: '1s',
    ipv6Prefix: 64,
    maxKeys: 100_000,
  }),
  limits: Object.freeze({
    body: '100kb',
    jsonDepth: 32,
    jsonArrayLength: 1_000,
    jsonKeys: 1_000,
    queryParams: 100,
    headerBytes: 16_384,
  }),
  cors: Object.freeze({ origins: Object.freeze([] as string[]), credentials: false, maxAge: '10m' }),
  audit: Object.freeze({
    log: true,
    database: true,
    spillDir: false as const,
    queueCapacity: 10_000,
    headInterval: '60s',
  }),
  redisKeyPrefix: 'nas:',
});
