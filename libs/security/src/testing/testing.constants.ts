import type { AnomalyDetector } from '../monitoring/anomaly-detector.service.js';
import type { Swappable } from './swappable.js';

/** Injection token of the swappable anomaly detector behind the `AnomalyDetector` a test app injects. */
export const ANOMALY_DETECTOR_SLOT = Symbol.for('nest-api-security.testing.anomalyDetector');

/** What `ANOMALY_DETECTOR_SLOT` holds. */
export type AnomalyDetectorSlot = Swappable<AnomalyDetector>;
