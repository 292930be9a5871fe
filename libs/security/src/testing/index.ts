/**
 * `nest-api-security/testing`: what an application's own tests import. Nothing here is used by the library
 * itself, and the main entry re-exports none of it.
 */
export { SecurityTestingModule } from './security-testing.module.js';
export {
  SecurityTesting,
  TESTING_ACTOR,
  type TestApiKeyOptions,
  type TestEventFilter,
  type TestPrincipal,
  type TestPrincipalInput,
  type TestPrincipalRef,
  type TestResetOptions,
  type TestSession,
  type TestSessionOptions,
  type TestSignOptions,
} from './security-testing.service.js';
export { securityOptionsForTesting, testingClockStart, type SecurityTestingOptions } from './testing-options.js';
export { TestingPrincipalStore } from './testing-principal.store.js';
export { swappable, type Swappable } from './swappable.js';
export { ManualClock } from '../core/clock.js';
