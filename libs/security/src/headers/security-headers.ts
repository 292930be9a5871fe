import type { ResolvedSecurityHeadersOptions, TrustProxyOption } from '../options/security-options.js';
import type { HttpRequestLike } from '../http/http-request.js';

/** One header the preset writes: name and value, or a name to remove (`value: null`). */
export interface SecurityHeader {
  readonly name: string;
  readonly value: string | null;
}

/** The precomputed header lists: the default set, HSTS (HTTPS only), and the relaxed sets by path prefix. */
export interface SecurityHeaderPlan {
  readonly headers: readonly SecurityHeader[];
  readonly hsts: SecurityHeader | undefined;
  readonly relaxed: ReadonlyArray<{ readonly prefix: string; readonly headers: readonly SecurityHeader[] }>;
}

/** Computes the header lists once, at boot, from helmet's header logic (stub: helper H1 implements). */
export function buildSecurityHeaders(_options: ResolvedSecurityHeadersOptions): SecurityHeaderPlan {
  return { headers: [], hsts: undefined, relaxed: [] };
}

/** Whether the request arrived over TLS, or over TLS at a trusted proxy (`X-Forwarded-Proto: https`). */
export function isSecureRequest(_request: HttpRequestLike, _trustProxy: TrustProxyOption): boolean {
  return false;
}
