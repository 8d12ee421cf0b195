import { subMilliseconds } from 'date-fns/subMilliseconds';
import type { EventSink } from '../engine/ports.ts';
import type { RolloutService } from '../engine/service.ts';
import { isActiveStage } from '../core/state-machine.ts';
import { describeError, isUnavailable } from '../engine/errors.ts';
import { BackgroundLoop } from '../engine/loop.ts';
import type { Logger } from '../log.ts';
import { HOME_HISTORY, homeView, type HomeInput } from '../render/blocks/home.ts';
import type { HomeView, Message } from '../render/blocks/limits.ts';
import { slackStore, type SlackStore } from './store.ts';
import { failureText, slackError, type WebClient } from './web.ts';

export interface HomeDeps {
  service: RolloutService;
  /** The Slack front end's tables (default: on the engine's database). */
  store?: SlackStore;
  web: WebClient;
  log: Logger;
  /** At least this long between two republishing passes (views.publish is Tier 4, ~100/min). */
  minIntervalMs?: number;
  /** People who opened the Home tab within this window get it republished when the rollout changes. */
  watchMs?: number;
  /** At most this many people per pass (the most recent openers first). */
  maxPerPass?: number;
  /** While a stage runs, a recent viewer's Home tab is republished once it is this old (its soak countdown, "guard last evaluated"). */
  refreshMs?: number;
  /** At most this many of those timed republishes in any minute, below views.publish's Tier 4 (100+ a minute per workspace). */
  refreshPerMinute?: number;
  /** Only the leader refreshes on time (proved, not cached); answers to a person's own open or click come from any replica. */
  isLeader?: () => boolean | Promise<boolean>;
  onSlackError?: (kind: string) => void;
}

const HOME_DEFAULTS = { minIntervalMs: 10_000, watchMs: 60 * 60_000, maxPerPass: 50, refreshMs: 60_000, refreshPerMinute: 60 } as const;
/** How often the timed refresh looks for due Home tabs when nothing was due (a due one is waited for exactly). */
const REFRESH_LOOK_MS = 15_000;

/**
 * Publishes the Home tab (views.publish, per person): when someone opens it, after their click
 * on it, when the rollout changes for everyone who opened it in the last hour, and while a stage
 * runs once a minute for each of them (the leader only), so its soak countdown and "guard last
 * evaluated" are never more than a minute stale. State changes coalesce: one pass at most every
 * minIntervalMs, however many events arrive, and a 429 pushes the next pass back by Slack's
 * Retry-After.
 */
export class HomePublisher {
  private readonly loop: BackgroundLoop;
  /** The timed refresh while a stage runs: its own loop, waiting exactly until the next Home tab falls due. */
  private readonly refreshLoop: BackgroundLoop;
  private readonly store: SlackStore;
  private lastPassAt = Number.NEGATIVE_INFINITY;
  private retryAt = 0;
  /** When the next timed refresh falls due (service clock, ms); null: nobody to refresh. */
  private nextDueAt: number | null = null;
  /** Timed republishes in the last minute (service clock, ms), for refreshPerMinute. */
  private refreshed: number[] = [];
  private readonly o: Required<Pick<HomeDeps, 'minIntervalMs' | 'watchMs' | 'maxPerPass' | 'refreshMs' | 'refreshPerMinute'>>;

  constructor(private readonly deps: HomeDeps) {
    this.o = { ...HOME_DEFAULTS, ...definedOnly(deps) };
    this.store = deps.store ?? slackStore(deps.service.deps.db);
    this.loop = new BackgroundLoop({
      pass: async () => {
        try {
          await this.pass();
        } finally {
          this.lastPassAt = Date.now();
        }
      },
      onError: (err) => {
        if (!isUnavailable(err)) this.deps.log.warn('home: republishing failed', { error: describeError(err) });
      },
      pace: () => Math.max(this.lastPassAt + this.o.minIntervalMs - Date.now(), this.retryAt - Date.now()),
    });
    this.refreshLoop = new BackgroundLoop({
      pass: () => this.refreshPass(),
      onError: (err) => {
        if (!isUnavailable(err)) this.deps.log.warn('home: refreshing failed', { error: describeError(err) });
      },
      pace: () =>
        Math.max(this.nextDueAt === null ? 0 : this.nextDueAt - this.deps.service.deps.now().getTime(), this.retryAt - Date.now()),
    });
  }

  /** Starts the timed refresh (the front end's background work; only a leader acts on it). */
  start(): void {
    this.refreshLoop.start(REFRESH_LOOK_MS, { unref: true });
  }

  /** One timed refresh now, and waits for it (tests). */
  async refresh(): Promise<void> {
    this.refreshLoop.kick();
    await this.refreshLoop.settle();
  }

  /** app_home_opened: remember the person (so changes reach them), then show them the rollout now. */
  async opened(userId: string): Promise<void> {
    await this.store.recordOpened(userId, this.deps.service.deps.now());
    await this.publish(userId, null);
  }

  /** The answer to a click on the Home tab (which has no response_url), shown on top of it. */
  async show(userId: string, notice: Message): Promise<void> {
    await this.publish(userId, notice);
  }

  /** An outbox event changed the rollout: republish for recent viewers, coalesced. */
  stateChanged(): void {
    this.loop.kick();
  }

  /** How long until the next republishing pass, when one is waiting (its pace is Slack's rate tier). */
  dueInMs(): number | null {
    return this.loop.dueInMs();
  }

  /** Runs a due pass now and waits for it (tests, shutdown). */
  flush(): Promise<void> {
    return this.loop.settle();
  }

  async stop(): Promise<void> {
    await this.refreshLoop.stop();
    await this.loop.stop();
  }

  /**
   * While a stage runs, on the leader: republishes the Home tab of each person who opened it in
   * the last watchMs once it is refreshMs old (so its countdown is never staler than that, and
   * nobody gets it more often from this pass), the stalest first, at most refreshPerMinute a
   * minute. Then waits exactly until the next one falls due.
   */
  private async refreshPass(): Promise<void> {
    const { service } = this.deps;
    this.nextDueAt = null;
    if (!(await this.deps.isLeader?.())) return;
    const run = await service.reads.latestRun();
    if (!run || !isActiveStage(service.plan, run.state)) return;
    const now = service.deps.now().getTime();
    const since = new Date(now - this.o.watchMs);
    this.refreshed = this.refreshed.filter((t) => t > now - 60_000);
    const room = Math.min(this.o.refreshPerMinute - this.refreshed.length, this.o.maxPerPass);
    const due = room > 0 ? await this.store.staleViewers(since, new Date(now - this.o.refreshMs), room) : [];
    if (due.length) {
      const views = await this.views();
      for (const user of due) {
        const sent = await this.send(user, this.isAdmin(user) ? views.admin : views.other);
        if (sent === 'rate_limited') return;
        this.refreshed.push(now);
      }
    }
    const oldest = await this.store.oldestPublish(since);
    // Past the per-minute budget, the next may go when the oldest of this minute's leaves it.
    const budgetAt = this.refreshed.length >= this.o.refreshPerMinute ? this.refreshed[0] + 60_000 : now;
    this.nextDueAt = oldest === null ? null : Math.max(oldest.getTime() + this.o.refreshMs, budgetAt);
  }

  private async pass(): Promise<void> {
    const { now } = this.deps.service.deps;
    const viewers = await this.store.recentViewers(subMilliseconds(now(), this.o.watchMs), this.o.maxPerPass);
    if (!viewers.length) return;
    const views = await this.views();
    for (const user of viewers) {
      const ok = await this.send(user, this.isAdmin(user) ? views.admin : views.other);
      if (ok === 'rate_limited') {
        // The rest wait for Slack's Retry-After: the next pass is paced by it.
        this.loop.kick();
        return;
      }
    }
  }

  /** The Home tab as it is now, for an admin and for anyone else. */
  private async views(): Promise<{ admin: HomeView; other: HomeView }> {
    const input = await this.read();
    return {
      admin: homeView(this.deps.service.plan, { ...input, admin: true, notice: null }),
      other: homeView(this.deps.service.plan, { ...input, admin: false, notice: null }),
    };
  }

  private async publish(userId: string, notice: Message | null): Promise<void> {
    const input = await this.read();
    await this.send(userId, homeView(this.deps.service.plan, { ...input, admin: this.isAdmin(userId), notice }));
  }

  private async read(): Promise<Omit<HomeInput, 'admin' | 'notice'>> {
    const { service } = this.deps;
    const [status, history, chart] = await Promise.all([
      service.reads.status({ preferGuard: true }),
      service.reads.history(HOME_HISTORY),
      this.store.latestChart(),
    ]);
    return { status, history, chart };
  }

  private isAdmin(userId: string): boolean {
    return this.deps.service.deps.access.isAdmin({ id: userId, via: 'slack' });
  }

  private async send(userId: string, view: HomeView): Promise<'ok' | 'failed' | 'rate_limited'> {
    try {
      await this.deps.web.views.publish({ user_id: userId, view: view as never });
      await this.store.markPublished(userId, this.deps.service.deps.now());
      return 'ok';
    } catch (err) {
      const { failure: f, label } = slackError(err);
      this.deps.onSlackError?.(label);
      if (f.kind === 'retry' && f.error.retryAfterMs !== null) {
        this.retryAt = Date.now() + f.error.retryAfterMs;
        this.deps.log.warn('home: Slack rate limit; republishing later', { retryAfterMs: f.error.retryAfterMs });
        return 'rate_limited';
      }
      this.deps.log.warn('home: views.publish failed', { error: failureText(f) });
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
  for (const k of ['minIntervalMs', 'watchMs', 'maxPerPass', 'refreshMs', 'refreshPerMinute'] as const)
    if (d[k] !== undefined) out[k] = d[k]!;
  return out;
}
