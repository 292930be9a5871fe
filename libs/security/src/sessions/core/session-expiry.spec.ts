import { idleDeadline, sessionStateAt, shouldTouch, touchIntervalMs } from './session-expiry.js';

const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;
const session = (over: Partial<{ expiresAt: Date; idleExpiresAt: Date; endedAt: Date | null }> = {}) => ({
  expiresAt: new Date(T0 + 12 * 60 * MINUTE),
  idleExpiresAt: new Date(T0 + 30 * MINUTE),
  endedAt: null,
  ...over,
});

describe('sessionStateAt', () => {
  it('is active until the idle deadline, then expired_idle from that very instant', () => {
    expect(sessionStateAt(session(), T0)).toBe('active');
    expect(sessionStateAt(session(), T0 + 30 * MINUTE - 1)).toBe('active');
    expect(sessionStateAt(session(), T0 + 30 * MINUTE)).toBe('expired_idle');
  });

  it('is expired_absolute from the absolute expiry on, even when the idle deadline passed too', () => {
    const late = session({ idleExpiresAt: new Date(T0 + 12 * 60 * MINUTE) });
    expect(sessionStateAt(late, T0 + 12 * 60 * MINUTE - 1)).toBe('active');
    expect(sessionStateAt(late, T0 + 12 * 60 * MINUTE)).toBe('expired_absolute');
    expect(sessionStateAt(session(), T0 + 13 * 60 * MINUTE)).toBe('expired_absolute');
  });

  it('is ended once ended, whatever the clock says', () => {
    expect(sessionStateAt(session({ endedAt: new Date(T0) }), T0 - MINUTE)).toBe('ended');
  });
});

describe('idleDeadline', () => {
  it('is now plus the idle timeout, never past the absolute expiry', () => {
    expect(idleDeadline(T0, 30 * MINUTE, new Date(T0 + 60 * MINUTE))).toEqual(new Date(T0 + 30 * MINUTE));
    expect(idleDeadline(T0, 30 * MINUTE, new Date(T0 + 10 * MINUTE))).toEqual(new Date(T0 + 10 * MINUTE));
  });
});

describe('touch throttling', () => {
  it('writes last_seen_at at most every minute, or every tenth of a short idle timeout', () => {
    expect(touchIntervalMs(30 * MINUTE)).toBe(MINUTE);
    expect(touchIntervalMs(5 * MINUTE)).toBe(30_000);
    expect(touchIntervalMs(5)).toBe(1);
  });

  it('touches once the interval has passed since the last write', () => {
    const seen = new Date(T0);
    expect(shouldTouch(seen, T0 + MINUTE - 1, MINUTE)).toBe(false);
    expect(shouldTouch(seen, T0 + MINUTE, MINUTE)).toBe(true);
  });
});
