import type { RequestSummary } from '../http/http-request.js';

/** Who made a change, for the audit trail: a principal through the API, or `cli:<os user>`. */
export interface Actor {
  /** The acting principal, when there is one. */
  readonly principalId?: string;
  /** Shown in the event's details: the principal id or `cli:<user>`. */
  readonly label: string;
  readonly request?: RequestSummary;
}
