/** Comparisons of secrets and MACs whose duration does not depend on where the inputs differ. */
import { timingSafeEqual } from 'node:crypto';

const EVEN_HEX = /^(?:[0-9a-fA-F]{2})*$/;

/**
 * Compares two hex strings byte by byte with `crypto.timingSafeEqual` (so `AB` equals `ab`). Returns
 * `false`, without throwing, when the lengths differ or either is not hex: lengths of hashes and MACs are
 * public, so only the content comparison has to be constant-time.
 * @example constantTimeEqualHex(computedHex, storedHex)
 */
export function constantTimeEqualHex(a: string, b: string): boolean {
  if (typeof a !== 'string' || typeof b !== 'string' || a.length !== b.length) return false;
  if (!EVEN_HEX.test(a) || !EVEN_HEX.test(b)) return false;
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}
