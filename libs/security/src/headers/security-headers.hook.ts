import type { AbstractHttpAdapter } from '@nestjs/core';
import type { TrustProxyOption } from '../options/security-options.js';
import type { SecurityHeaderPlan } from './security-headers.js';

/** Writes the precomputed headers as the first thing on every response, on Express and Fastify (stub: H1). */
export function installSecurityHeaders(
  _adapter: AbstractHttpAdapter,
  _plan: SecurityHeaderPlan,
  _trustProxy: TrustProxyOption,
): void {}
