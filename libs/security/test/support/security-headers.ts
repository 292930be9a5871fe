/** The API policy of the security header preset. */
export const STRICT_CSP = "default-src 'none'; frame-ancestors 'none'";

/** The preset on a plain-HTTP response, as the tests expect it (names lower case). */
export const PRESET: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'content-security-policy': STRICT_CSP,
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

// Every header helmet or the preset knows: one too many (X-Powered-By, HSTS over HTTP, a legacy header
// the preset drops) or one missing shows in `toEqual`.
const KNOWN = [
  ...Object.keys(PRESET),
  'content-security-policy-report-only',
  'cross-origin-embedder-policy',
  'strict-transport-security',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-powered-by',
];

/** The security headers of a response (a fetch `Response` or node:http headers), for `toEqual`. */
export function securityHeadersOf(
  response: Response | { readonly headers: Readonly<Record<string, unknown>> },
): Record<string, string> {
  const headers = response.headers;
  const get = (name: string): string | undefined => {
    if (headers instanceof Headers) return headers.get(name) ?? undefined;
    const value = headers[name];
    return value === undefined ? undefined : String(value);
  };
  return Object.fromEntries(KNOWN.flatMap((name) => (get(name) === undefined ? [] : [[name, get(name)!]])));
}
