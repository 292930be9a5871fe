import type { HttpRequestLike } from '../http/http-request.js';
import type { Principal } from './principal.js';

/**
 * One way of authenticating a request (API key, signature, bearer token, session). The guard asks
 * every enabled authenticator; more than one credential in a request is refused.
 */
export abstract class Authenticator {
  /** Short name for logs and events, e.g. `api-key`. */
  abstract readonly name: string;
  /** Whether the request carries this authenticator's credential at all (cheap, no I/O). */
  abstract present(request: HttpRequestLike): boolean;
  /** Verifies the credential; throws `InvalidCredentialsError` when it is refused. */
  abstract authenticate(request: HttpRequestLike): Promise<Principal>;
  /** `WWW-Authenticate` challenge this scheme adds to 401 answers. */
  abstract readonly challenge: string;
}
