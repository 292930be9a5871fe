import type { HttpRequestLike } from '../http/http-request.js';

type RawBodyRequest = HttpRequestLike & { rawBody?: Buffer; body?: unknown; readonly raw?: RawBodyRequest };

/**
 * The exact bytes of the request body, as signatures cover them: `rawBody` (kept by the library's body parsers
 * for every content type, see `installBodyParsing`), an empty buffer when the request had
 * no body, or `undefined` when a body was received but its bytes were not kept (then a signature cannot
 * be checked, and the request is refused).
 */
export function rawBodyOf(request: RawBodyRequest): Buffer | undefined {
  const raw = request.rawBody ?? request.raw?.rawBody;
  if (Buffer.isBuffer(raw)) return raw;
  const headers = request.headers;
  const length = headers['content-length'];
  const hasBody = (length !== undefined && length !== '0') || headers['transfer-encoding'] !== undefined;
  return hasBody ? undefined : Buffer.alloc(0);
}
