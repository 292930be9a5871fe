import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { createHmac } from 'node:crypto';
import { SecurityEvents } from '../audit/security-events.service.js';
import type { SecurityEventRecord, SecurityEventType } from '../audit/security-event-types.js';
import type { ResolvedSecurityOptions, ResolvedWebhookAlertOptions } from '../options/security-options.js';
import { SECURITY_OPTIONS } from '../security.constants.js';

/** Injection token of optional `WebhookAlertTuning` (queue size, retry delays, shutdown bound). */
export const WEBHOOK_ALERT_TUNING = Symbol.for('nest-api-security.webhookAlertTuning');

/** Knobs of the delivery machinery; the defaults suit production, tests shorten them. */
export interface WebhookAlertTuning {
  /** Alerts waiting at most; more are dropped with a warning (default 1000). */
  readonly maxQueue?: number;
  /** Pause before each retry; its length + 1 is the number of attempts (default `[1000, 5000]`: 3 attempts). */
  readonly retryDelaysMs?: readonly number[];
  /** How long shutdown waits for the queue to drain (default 5000). */
  readonly flushTimeoutMs?: number;
  readonly logger?: { warn(message: string): void };
}

/** The header that carries `sha256=<hex>`, the HMAC-SHA256 of the raw body under `alerts.webhook.secret`. */
export const WEBHOOK_SIGNATURE_HEADER = 'X-Signature-256';

/**
 * Signs a webhook body as `X-Signature-256` carries it.
 * @example webhookSignature(secret, rawBody) // 'sha256=5d41…'
 */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

type Attempt = { readonly kind: 'delivered' } | { readonly kind: 'retry' | 'give-up'; readonly reason: string };

/**
 * Sends the configured event types (`alerts.webhook.events`) to `alerts.webhook.url` as
 * `POST {"event": <record>}`, signed when a secret is set. A bounded in-memory queue delivered in
 * order, in the background: a request never waits for, nor fails because of, an alert. Network errors,
 * timeouts, 408, 429 and 5xx are retried with backoff; other answers are final. Shutdown drains the
 * queue for a bounded time.
 */
@Injectable()
export class WebhookAlertSink implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly webhook: ResolvedWebhookAlertOptions | false;
  private readonly types: ReadonlySet<SecurityEventType>;
  private readonly maxQueue: number;
  private readonly retryDelaysMs: readonly number[];
  private readonly flushTimeoutMs: number;
  private readonly logger: { warn(message: string): void };
  private readonly queue: SecurityEventRecord[] = [];
  private readonly stopped = new AbortController();
  private readonly unsubscribe: () => void = () => undefined;
  private running: Promise<void> | undefined;
  private dropped = 0;

  constructor(
    @Inject(SECURITY_OPTIONS) options: ResolvedSecurityOptions,
    events: SecurityEvents,
    @Optional() @Inject(WEBHOOK_ALERT_TUNING) tuning: WebhookAlertTuning = {},
  ) {
    this.webhook = options.alerts ? options.alerts.webhook : false;
    this.types = new Set(this.webhook ? this.webhook.events : []);
    this.maxQueue = tuning.maxQueue ?? 1000;
    this.retryDelaysMs = tuning.retryDelaysMs ?? [1000, 5000];
    this.flushTimeoutMs = tuning.flushTimeoutMs ?? 5000;
    this.logger = tuning.logger ?? new Logger('Security');
    if (this.webhook) this.unsubscribe = events.subscribe((record) => this.enqueue(record));
  }

  /** Alerts waiting to be delivered (the one being delivered included). */
  get pending(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  onApplicationBootstrap(): void {
    if (!this.webhook) return;
    // The origin only: a path or query may hold a token.
    const { origin } = new URL(this.webhook.url);
    const signed = this.webhook.secret ? 'signed' : 'unsigned';
    new Logger('Security').log(`alerts: webhook to ${origin} (${signed}) for ${this.webhook.events.join(', ')}`);
  }

  /** Stops taking alerts and waits, at most `flushTimeoutMs`, for the queue to drain. */
  async onApplicationShutdown(): Promise<void> {
    this.unsubscribe();
    if (this.running) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>(
        (resolve) => (timer = setTimeout(() => resolve('timeout'), this.flushTimeoutMs)),
      );
      const outcome = await Promise.race([this.running.then(() => 'drained' as const), timeout]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        this.logger.warn(`webhook alerts: ${this.pending} alert(s) not delivered before shutdown`);
        this.queue.length = 0;
      }
    }
    this.stopped.abort();
  }

  private enqueue(record: SecurityEventRecord): void {
    if (!this.types.has(record.type) || this.stopped.signal.aborted) return;
    if (this.queue.length >= this.maxQueue) {
      // One warning per overflow, not one per dropped alert.
      if (this.dropped === 0) this.logger.warn(`webhook alerts: queue full (${this.maxQueue}), dropping alerts`);
      this.dropped += 1;
      return;
    }
    if (this.dropped > 0) {
      this.logger.warn(`webhook alerts: ${this.dropped} alert(s) dropped while the queue was full`);
      this.dropped = 0;
    }
    this.queue.push(record);
    this.drain();
  }

  private drain(): void {
    if (this.running) return;
    this.running = (async () => {
      for (let record = this.queue.shift(); record; record = this.queue.shift()) await this.deliver(record);
    })().finally(() => {
      this.running = undefined;
      // An alert queued between the loop's last check and this callback.
      if (this.queue.length > 0 && !this.stopped.signal.aborted) this.drain();
    });
  }

  private async deliver(record: SecurityEventRecord): Promise<void> {
    const webhook = this.webhook as ResolvedWebhookAlertOptions;
    const body = JSON.stringify({ event: record });
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': 'nest-api-security-webhook',
      'X-Event-Id': record.id,
      'X-Event-Type': record.type,
    };
    if (webhook.secret) headers[WEBHOOK_SIGNATURE_HEADER] = webhookSignature(webhook.secret, body);
    for (let attempt = 0; ; attempt += 1) {
      const result = await this.attempt(webhook, headers, body);
      if (result.kind === 'delivered') return;
      if (result.kind === 'give-up' || attempt >= this.retryDelaysMs.length || this.stopped.signal.aborted) {
        this.logger.warn(
          `webhook alerts: ${record.type} ${record.id} not delivered after ${attempt + 1} attempt(s): ${result.reason}`,
        );
        return;
      }
      await this.pause(this.retryDelaysMs[attempt]!);
    }
  }

  private async attempt(
    webhook: ResolvedWebhookAlertOptions,
    headers: Record<string, string>,
    body: string,
  ): Promise<Attempt> {
    try {
      const response = await fetch(webhook.url, {
        method: 'POST',
        headers,
        body,
        // A redirect could carry the alert elsewhere; the configured URL is the only destination.
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(webhook.timeoutMs), this.stopped.signal]),
      });
      await response.body?.cancel().catch(() => undefined);
      if (response.ok) return { kind: 'delivered' };
      const retry = response.status >= 500 || response.status === 408 || response.status === 429;
      return { kind: retry ? 'retry' : 'give-up', reason: `HTTP ${response.status}` };
    } catch (error) {
      const name = (error as { name?: string }).name;
      const reason = name === 'TimeoutError' ? 'timeout' : name === 'AbortError' ? 'shutdown' : errorText(error);
      return { kind: 'retry', reason };
    }
  }

  private pause(ms: number): Promise<void> {
    const signal = this.stopped.signal;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      // Shutdown cuts the pause short; the timer alone never keeps the process alive.
      const timer = setTimeout(done, ms);
      timer.unref();
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

function errorText(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code;
  return error instanceof Error ? error.message : String(error);
}
