import type { ResolvedSecurityOptions } from './security-options.js';

/** What the lint knows besides the options: facts only known once the server exists. */
export interface SecurityLintContext {
  /** The server speaks TLS itself (an https.Server). */
  readonly https: boolean;
}

/** Runs the boot-time security lint: throws in production, warns otherwise (stub: helper H4 implements). */
export function runSecurityLint(
  _options: ResolvedSecurityOptions,
  _context: SecurityLintContext,
  _warn: (message: string) => void,
): void {}
