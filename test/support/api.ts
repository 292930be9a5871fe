/**
 * Calls the demo with `fetch`: an optional API key, and a JSON body (an object is serialised, a string is sent
 * as it is, so tests can send JSON text no serialiser would write).
 */
export function apiCall(
  baseUrl: string,
  method: string,
  path: string,
  key?: string,
  body?: unknown,
): Promise<Response> {
  return fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(key ? { 'x-api-key': key } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}
