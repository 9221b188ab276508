/**
 * Counts failures per key (a client address) in a sliding window. Once a key has `maxFailures`
 * within `windowMs`, every attempt for that key is refused until the oldest failure leaves the
 * window, correct passwords included: otherwise the limit would not slow a guesser down.
 */
export interface FailureLimiterOptions {
  readonly maxFailures: number;
  readonly windowMs: number;
  /** Clock, for tests. */
  readonly now?: () => number;
  /** Most keys remembered at once, so a flood of addresses cannot grow memory without bound. */
  readonly maxKeys?: number;
}

export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(private readonly options: FailureLimiterOptions) {
    this.now = options.now ?? Date.now;
    this.maxKeys = options.maxKeys ?? 10_000;
  }

  /** Milliseconds until `key` may try again; 0 when it may try now. */
  retryAfterMs(key: string): number {
    const recent = this.recent(key);
    if (recent.length < this.options.maxFailures) return 0;
    return Math.max(1, recent[recent.length - this.options.maxFailures]! + this.options.windowMs - this.now());
  }

  recordFailure(key: string): void {
    const recent = this.recent(key);
    recent.push(this.now());
    // Only the newest maxFailures matter for the decision.
    this.failures.set(key, recent.slice(-this.options.maxFailures));
    if (this.failures.size > this.maxKeys) this.evict();
  }

  reset(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string): number[] {
    const since = this.now() - this.options.windowMs;
    const kept = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (kept.length === 0) this.failures.delete(key);
    return kept;
  }

  private evict(): void {
    for (const key of [...this.failures.keys()]) {
      if (this.recent(key).length === 0) this.failures.delete(key);
    }
    // Still too many: forget the oldest keys (Map keeps insertion order).
    for (const key of this.failures.keys()) {
      if (this.failures.size <= this.maxKeys) break;
      this.failures.delete(key);
    }
  }
}
