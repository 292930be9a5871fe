import type { SecurityEventInput } from '../audit/security-event-types.js';

/** One refused request, as the reporter needs it. */
export interface RateLimitRefusal {
  /** The counter key (`ip:203.0.113.7`, `principal:42`, `login:203.0.113.7`). */
  readonly key: string;
  /** The refusing policy's name. */
  readonly policy: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly retryAfterMs: number;
  readonly principalId?: string;
  readonly keyId?: string;
  readonly request?: SecurityEventInput['request'];
}

/** Options of `RateLimitEventReporter`. */
export interface RateLimitEventReporterOptions {
  /** Writes one event (to the security log and the audit trail). */
  readonly record: (event: SecurityEventInput) => void;
  /** Milliseconds since the epoch (a `Clock`). */
  readonly now: () => number;
  /** At most this many keys are followed at once; beyond that, refusals go to one overflow count. Default 10 000. */
  readonly maxTracked?: number;
}

interface Episode {
  readonly first: RateLimitRefusal;
  readonly startedAt: number;
  /** The episode ends (and its summary is due) at this instant. */
  endsAt: number;
  /** Refusals after the first one. */
  repeated: number;
}

const DEFAULT_MAX_TRACKED = 10_000;

/**
 * Turns refusals into audit events without letting a flood flood the trail: the first refusal of a
 * key writes `RATE_LIMIT_EXCEEDED` at once; further refusals of that key within its window are only
 * counted, and written as one summary event (`details.summary: true`, `details.refused`) when the
 * window has passed. A refusal after that starts a new episode. Memory is bounded by `maxTracked`;
 * refusals of keys beyond it are counted together and summarised the same way. Per instance: with
 * several instances, each writes its own first event and summary.
 *
 * `flushDue()` writes the summaries that are due; the module calls it once a second (one `unref()`'d
 * interval) and `flushAll()` at shutdown.
 */
export class RateLimitEventReporter {
  private readonly episodes = new Map<string, Episode>();
  private readonly maxTracked: number;
  private overflow: { count: number; since: number; policies: Set<string> } | undefined;

  constructor(private readonly options: RateLimitEventReporterOptions) {
    this.maxTracked = options.maxTracked ?? DEFAULT_MAX_TRACKED;
  }

  /** Number of keys currently followed. */
  get tracked(): number {
    return this.episodes.size;
  }

  refused(refusal: RateLimitRefusal): void {
    const now = this.options.now();
    const episode = this.episodes.get(refusal.key);
    if (episode && episode.endsAt > now) {
      episode.repeated++;
      return;
    }
    if (episode) this.summarize(refusal.key, episode, now);
    if (this.episodes.size >= this.maxTracked) {
      this.overflow ??= { count: 0, since: now, policies: new Set() };
      this.overflow.count++;
      this.overflow.policies.add(refusal.policy);
      return;
    }
    this.episodes.set(refusal.key, { first: refusal, startedAt: now, endsAt: now + refusal.windowMs, repeated: 0 });
    this.options.record({
      type: 'RATE_LIMIT_EXCEEDED',
      outcome: 'denied',
      status: 429,
      principalId: refusal.principalId,
      keyId: refusal.keyId,
      request: refusal.request,
      details: {
        code: 'ERR_SECURITY_RATE_LIMITED',
        policy: refusal.policy,
        counter: refusal.key,
        limit: refusal.limit,
        windowSeconds: Math.ceil(refusal.windowMs / 1000),
        retryAfterSeconds: Math.max(1, Math.ceil(refusal.retryAfterMs / 1000)),
      },
    });
  }

  /** Writes the summaries of episodes that have ended by now and forgets them. */
  flushDue(): void {
    const now = this.options.now();
    for (const [key, episode] of this.episodes) {
      if (episode.endsAt <= now) this.summarize(key, episode, now);
    }
    if (this.overflow && this.episodes.size < this.maxTracked) this.summarizeOverflow(now);
  }

  /** Writes every pending summary (at shutdown). */
  flushAll(): void {
    const now = this.options.now();
    for (const [key, episode] of this.episodes) this.summarize(key, episode, now);
    if (this.overflow) this.summarizeOverflow(now);
  }

  private summarize(key: string, episode: Episode, now: number): void {
    this.episodes.delete(key);
    if (episode.repeated === 0) return;
    const { first } = episode;
    this.options.record({
      type: 'RATE_LIMIT_EXCEEDED',
      outcome: 'denied',
      status: 429,
      principalId: first.principalId,
      keyId: first.keyId,
      request: first.request?.ip === undefined ? undefined : { ip: first.request.ip },
      details: {
        code: 'ERR_SECURITY_RATE_LIMITED',
        summary: true,
        policy: first.policy,
        counter: key,
        limit: first.limit,
        refused: episode.repeated,
        from: new Date(episode.startedAt).toISOString(),
        to: new Date(Math.min(now, episode.endsAt)).toISOString(),
      },
    });
  }

  private summarizeOverflow(now: number): void {
    const overflow = this.overflow!;
    this.overflow = undefined;
    this.options.record({
      type: 'RATE_LIMIT_EXCEEDED',
      outcome: 'denied',
      status: 429,
      details: {
        code: 'ERR_SECURITY_RATE_LIMITED',
        summary: true,
        overflow: true,
        policies: [...overflow.policies],
        refused: overflow.count,
        from: new Date(overflow.since).toISOString(),
        to: new Date(now).toISOString(),
      },
    });
  }
}
