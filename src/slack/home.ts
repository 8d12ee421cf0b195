import type { EventSink } from '../engine/ports.ts';
import type { RolloutService } from '../engine/service.ts';
import { describeError, isUnavailable } from '../engine/errors.ts';
import * as store from '../db/store.ts';
import type { Logger } from '../log.ts';
import { HOME_HISTORY, homeView, type HomeInput } from '../render/blocks/home.ts';
import type { HomeView, Message } from '../render/blocks/limits.ts';
import { latestChart, recentViewers, recordOpened } from './home-viewers.ts';
import { classify, failureKind, type WebClient } from './web.ts';

export interface HomeDeps {
  service: RolloutService;
  web: WebClient;
  log: Logger;
  /** At least this long between two republishing passes (views.publish is Tier 4, ~100/min). */
  minIntervalMs?: number;
  /** People who opened the Home tab within this window get it republished when the rollout changes. */
  watchMs?: number;
  /** At most this many people per pass (the most recent openers first). */
  maxPerPass?: number;
  onSlackError?: (kind: string) => void;
}

export const HOME_DEFAULTS = { minIntervalMs: 10_000, watchMs: 60 * 60_000, maxPerPass: 50 } as const;

/**
 * Publishes the Home tab (views.publish, per person): when someone opens it, after their click
 * on it, and when the rollout changes for everyone who opened it in the last hour. State changes
 * coalesce: one pass at most every minIntervalMs, however many events arrive, and a 429 pushes
 * the next pass back by Slack's Retry-After.
 */
export class HomePublisher {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private lastPassAt = Number.NEGATIVE_INFINITY;
  private retryAt = 0;
  private dueAt = 0;
  private stopped = false;
  private readonly o: Required<Pick<HomeDeps, 'minIntervalMs' | 'watchMs' | 'maxPerPass'>>;

  constructor(private readonly deps: HomeDeps) {
    this.o = { ...HOME_DEFAULTS, ...definedOnly(deps) };
  }

  /** app_home_opened: remember the person (so changes reach them), then show them the rollout now. */
  async opened(userId: string): Promise<void> {
    const { db, now } = this.deps.service.deps;
    await recordOpened(db.pool, userId, now());
    await this.publish(userId, null);
  }

  /** The answer to a click on the Home tab (which has no response_url), shown on top of it. */
  async show(userId: string, notice: Message): Promise<void> {
    await this.publish(userId, notice);
  }

  /** An outbox event changed the rollout: republish for recent viewers, coalesced. */
  stateChanged(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    const wait = Math.max(0, this.lastPassAt + this.o.minIntervalMs - Date.now(), this.retryAt - Date.now());
    this.dueAt = Date.now() + wait;
    this.timer = setTimeout(() => this.startPass(), wait);
    this.timer.unref?.();
  }

  /** How long until the next republishing pass, when one is waiting (its pace is Slack's rate tier). */
  dueInMs(): number | null {
    return this.timer ? Math.max(0, this.dueAt - Date.now()) : null;
  }

  /** Runs a due pass now and waits for it (tests, shutdown). */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.startPass();
    }
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private startPass(): void {
    this.timer = null;
    this.running = this.pass()
      .catch((err) => {
        if (!isUnavailable(err)) this.deps.log.warn('home: republishing failed', { error: describeError(err) });
      })
      .finally(() => {
        this.running = null;
        this.lastPassAt = Date.now();
        if (this.again) {
          this.again = false;
          this.stateChanged();
        }
      });
  }

  private async pass(): Promise<void> {
    const { db, now } = this.deps.service.deps;
    const viewers = await recentViewers(db.pool, new Date(now().getTime() - this.o.watchMs), this.o.maxPerPass);
    if (!viewers.length) return;
    const input = await this.read();
    const views = {
      admin: homeView(this.deps.service.plan, { ...input, admin: true, notice: null }),
      other: homeView(this.deps.service.plan, { ...input, admin: false, notice: null }),
    };
    for (const user of viewers) {
      const ok = await this.send(user, this.isAdmin(user) ? views.admin : views.other);
      if (ok === 'rate_limited') {
        this.again = true;
        return;
      }
    }
  }

  private async publish(userId: string, notice: Message | null): Promise<void> {
    const input = await this.read();
    await this.send(userId, homeView(this.deps.service.plan, { ...input, admin: this.isAdmin(userId), notice }));
  }

  private async read(): Promise<Omit<HomeInput, 'admin' | 'notice'>> {
    const { service } = this.deps;
    const pool = service.deps.db.pool;
    const [status, history, chart] = await Promise.all([
      service.status({ preferGuard: true }),
      store.recentAudit(pool, HOME_HISTORY),
      latestChart(pool),
    ]);
    return { status, history, chart };
  }

  private isAdmin(userId: string): boolean {
    return this.deps.service.deps.access.isAdmin({ id: userId, via: 'slack' });
  }

  private async send(userId: string, view: HomeView): Promise<'ok' | 'failed' | 'rate_limited'> {
    try {
      await this.deps.web.views.publish({ user_id: userId, view: view as never });
      return 'ok';
    } catch (err) {
      this.deps.onSlackError?.(failureKind(err));
      const f = classify(err);
      if (f.kind === 'retry' && f.error.retryAfterMs !== null) {
        this.retryAt = Date.now() + f.error.retryAfterMs;
        this.deps.log.warn('home: Slack rate limit; republishing later', { retryAfterMs: f.error.retryAfterMs });
        return 'rate_limited';
      }
      this.deps.log.warn('home: views.publish failed', { error: f.kind === 'retry' ? f.error.message : f.code });
      return 'failed';
    }
  }
}

/**
 * The channel sink, and after each event it delivered, the Home tabs of recent viewers (the
 * leader delivers, so the leader republishes). Reports change no state and refresh nothing.
 */
export function refreshingHome(sink: EventSink, home: Pick<HomePublisher, 'stateChanged'>): EventSink {
  return {
    async deliver(event, meta) {
      await sink.deliver(event, meta);
      if (event.kind !== 'report') home.stateChanged();
    },
    notice: (text) => sink.notice(text),
  };
}

function definedOnly(d: HomeDeps): Partial<typeof HOME_DEFAULTS> {
  const out: Record<string, number> = {};
  for (const k of ['minIntervalMs', 'watchMs', 'maxPerPass'] as const) if (d[k] !== undefined) out[k] = d[k]!;
  return out;
}
