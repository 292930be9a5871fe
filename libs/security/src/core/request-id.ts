import { randomUUID } from 'node:crypto';

/** An inbound `X-Request-Id` is kept only when it matches this; anything else is replaced. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** Returns the inbound id when it is safe to echo and log, otherwise a new UUID. */
export function acceptRequestId(inbound: string | string[] | undefined): string {
  if (typeof inbound === 'string' && REQUEST_ID_PATTERN.test(inbound)) return inbound;
  return randomUUID();
}
