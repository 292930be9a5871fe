export {
  SECURITY_CHANGE_KINDS,
  SECURITY_CHANGE_ID_MAX_LENGTH,
  SECURITY_CHANGE_ORIGIN_MAX_LENGTH,
  parseSecurityChange,
  decodeSecurityChange,
  type SecurityChange,
  type SecurityChangeKind,
} from './security-change.js';
export {
  SecurityChangeBus,
  type SecurityChangeBusLogger,
  type SecurityChangeBusOptions,
  type SecurityChangeListener,
} from './security-change.bus.js';
export {
  MemorySecurityChangeBus,
  MemorySecurityChangeHub,
  type MemorySecurityChangeBusOptions,
} from './adapters/memory-security-change.bus.js';
export {
  RedisSecurityChangeBus,
  SECURITY_CHANGES_REDIS_CHANNEL,
  type RedisSecurityChangeBusOptions,
} from './adapters/redis-security-change.bus.js';
export {
  PostgresSecurityChangeBus,
  SECURITY_CHANGES_PG_CHANNEL,
  type PostgresSecurityChangeBusOptions,
  type SecurityChangeQuery,
} from './adapters/postgres-security-change.bus.js';
export {
  PollingSecurityChangeBus,
  SECURITY_CHANGES_TABLE,
  type PollingSecurityChangeBusOptions,
  type SecurityChangeRowsQuery,
} from './adapters/polling-security-change.bus.js';
export { SecurityChanges1764300000000 } from '../persistence/migrations/1764300000000-security-changes.js';
