/** Defaults of the `anomalies`, `metrics` and `alerts` options, frozen. */
export const MONITORING_DEFAULTS = Object.freeze({
  anomalies: Object.freeze({ failedAuthPerIp: '20/60s', denialsPerPrincipal: '30/60s', blockFor: '15m' }),
  metrics: Object.freeze({ defaultMetrics: true }),
  webhook: Object.freeze({ events: Object.freeze(['SUSPICIOUS_PATTERN'] as const), timeout: '5s' }),
});
