/** The catalogue of security events. Every feature records through `SecurityEvents` with one of these. */
export const SECURITY_EVENT_TYPES = [
  'AUTH_FAILED',
  'LOGIN_SUCCEEDED',
  'LOGIN_FAILED',
  'KEY_CREATED',
  'KEY_ROTATED',
  'KEY_REVOKED',
  'SIGNATURE_REJECTED',
  'TOKEN_REJECTED',
  'SESSION_CREATED',
  'SESSION_ENDED',
  'PASSWORD_CHANGED',
  'MFA_ENROLLED',
  'MFA_VERIFIED',
  'MFA_FAILED',
  'PERMISSION_DENIED',
  'ROLE_ASSIGNED',
  'ROLE_REVOKED',
  'GRANT_ADDED',
  'GRANT_REMOVED',
  'SENSITIVE_ACCESS',
  'DATA_CHANGED',
  'RATE_LIMIT_EXCEEDED',
  'RATE_LIMIT_STORE_MODE_CHANGED',
  'INVALID_INPUT',
  'SUSPICIOUS_PATTERN',
  'DEPRECATED_CALL',
  'CONFIG_CHANGED',
  'ADMIN_ACTION',
] as const;

/** One entry of the catalogue. */
export type SecurityEventType = (typeof SECURITY_EVENT_TYPES)[number];

/** How the action the event describes ended. */
export type SecurityEventOutcome = 'success' | 'failure' | 'denied';

/** What a caller hands to `SecurityEvents.record()`. */
export interface SecurityEventInput {
  readonly type: SecurityEventType;
  readonly outcome: SecurityEventOutcome;
  readonly principalId?: string;
  readonly keyId?: string;
  readonly status?: number;
  /** Free-form details; secrets are redacted by key name before anything is written. */
  readonly details?: Readonly<Record<string, unknown>>;
  readonly request?: {
    readonly requestId?: string;
    readonly method?: string;
    readonly path?: string;
    readonly ip?: string;
    readonly userAgent?: string;
  };
  /** Who acted when there is no request, e.g. `cli:alice`. */
  readonly actor?: string;
}

/** An event as stored: the input plus identity and time. Chain fields are added by the store. */
export interface SecurityEventRecord {
  readonly id: string;
  readonly at: Date;
  readonly type: SecurityEventType;
  readonly outcome: SecurityEventOutcome;
  readonly principalId: string | null;
  readonly keyId: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly method: string | null;
  readonly path: string | null;
  readonly status: number | null;
  readonly requestId: string | null;
  readonly details: Readonly<Record<string, unknown>>;
}
