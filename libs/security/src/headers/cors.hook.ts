import type { AbstractHttpAdapter } from '@nestjs/core';
import type { ResolvedCorsOptions } from '../options/security-options.js';

/** Answers preflights and adds CORS headers for allowed origins, before any guard (stub: helper H2 implements). */
export function installCors(_adapter: AbstractHttpAdapter, _options: ResolvedCorsOptions): void {}
