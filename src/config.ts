import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces, userInfo } from 'node:os';
import { defaultPlan, parsePlan, PlanError, type Plan } from './plan/plan.ts';

/** Everything the bot reads from the environment, validated once at start. Mirrored in .env.example. */
export interface Config {
  databaseUrl?: string;
  metricsDatabaseUrl?: string;
  dataDir: string;
  planPath?: string;
  createAnalyticsIndex: boolean;
  /** A leader silent this long loses the lock to a standby (Postgres' idle_session_timeout on its session). */
  leaderTimeoutMs: number;
  /** Who the console and CLI say they act as: ROLLOUT_USER, else the OS user (a claim unless it is the OS user). */
  localUser: string;
  /** What the machine says about who typed a console or CLI command; recorded in every audit row. */
  origin: { osUser: string; host: string };
  admins: string[];
  healthUrl?: string;
  logLevel: 'info' | 'warn' | 'error' | 'silent';
  /** Unset: text when stderr is a terminal, JSON lines otherwise. */
  logFormat?: 'text' | 'json';
  /** Console mode: where GET /metrics and /healthz listen (METRICS_PORT, else PORT); null: no server. Slack modes serve them on PORT. */
  metricsPort: number | null;
  /**
   * Where the other replicas reach this one's GET /healthz when the database is gone
   * (ROLLOUT_ADVERTISE_URL); unset: see advertisedUrl.
   */
  advertiseUrl?: string;
  slack: SlackConfig | null;
}

export interface SlackConfig {
  botToken: string;
  appToken?: string;
  signingSecret?: string;
  apiUrl?: string;
  channel: string;
  port: number;
  /** Socket Mode timings. Not read from the environment: the defaults suit Slack; tests shorten them. */
  socket?: SocketTuning;
}

export interface SocketTuning {
  /** A pong must come this soon after a ping, or the link is dead (library default 5 s). */
  clientPingTimeoutMs?: number;
  /** Once Slack has pinged, the next ping must come this soon (library default 30 s). */
  serverPingTimeoutMs?: number;
  /** Reconnection backoff: doubling from min to max, with jitter (default 1 s to 60 s). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

export class ConfigError extends Error {}

const USER_ID = /^[A-Z0-9][A-Z0-9_.-]{1,40}$/i;

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const get = (k: string) => (env[k]?.trim() ? env[k]!.trim() : undefined);
  const bool = (k: string, dflt: boolean) => {
    const v = get(k)?.toLowerCase();
    if (v === undefined) return dflt;
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    throw new ConfigError(`${k} must be true or false (got "${env[k]}")`);
  };
  for (const k of ['DATABASE_URL', 'METRICS_DATABASE_URL']) {
    const v = get(k);
    if (v && !/^postgres(ql)?:\/\//.test(v)) throw new ConfigError(`${k} must be a postgres:// URL`);
  }
  const healthUrl = get('HEALTH_URL');
  if (healthUrl && !/^https?:\/\//.test(healthUrl)) throw new ConfigError("HEALTH_URL must be an http(s):// URL of the app's /api/health");
  const admins = (get('ROLLOUT_ADMINS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const badAdmin = admins.find((a) => !USER_ID.test(a));
  if (badAdmin)
    throw new ConfigError(`ROLLOUT_ADMINS must list user IDs separated by commas (like U01ABCDEF,U02GHIJKL); "${badAdmin}" is not one`);
  const logLevel = (get('LOG_LEVEL') ?? 'info') as Config['logLevel'];
  if (!['info', 'warn', 'error', 'silent'].includes(logLevel)) throw new ConfigError('LOG_LEVEL must be info, warn, error or silent');
  const logFormat = get('LOG_FORMAT')?.toLowerCase();
  if (logFormat !== undefined && logFormat !== 'text' && logFormat !== 'json')
    throw new ConfigError(`LOG_FORMAT must be text or json (got "${env.LOG_FORMAT}"); unset, it is text in a terminal and json otherwise`);
  for (const k of ['PORT', 'METRICS_PORT']) {
    const v = get(k);
    if (v !== undefined && !(/^\d{1,5}$/.test(v) && Number(v) <= 65535))
      throw new ConfigError(`${k} must be a port number from 0 to 65535 (got "${env[k]}")`);
  }
  if (get('METRICS_PORT') && get('SLACK_BOT_TOKEN'))
    throw new ConfigError(
      'METRICS_PORT is for console mode; with Slack, GET /metrics is served on PORT next to /healthz: unset METRICS_PORT',
    );
  const metricsPort = get('METRICS_PORT') ?? get('PORT');
  const advertiseUrl = get('ROLLOUT_ADVERTISE_URL');
  if (advertiseUrl && !/^https?:\/\/[^/]+\/?$/.test(advertiseUrl))
    throw new ConfigError(
      `ROLLOUT_ADVERTISE_URL must be the http(s) base URL where other replicas reach this one's /healthz, like http://10.0.3.7:3000 (got "${advertiseUrl}")`,
    );
  const leaderTimeout = get('ROLLOUT_LEADER_TIMEOUT_SECONDS') ?? '30';
  if (!/^\d{1,4}$/.test(leaderTimeout) || Number(leaderTimeout) < 3 || Number(leaderTimeout) > 3600)
    throw new ConfigError(
      `ROLLOUT_LEADER_TIMEOUT_SECONDS must be a whole number of seconds from 3 to 3600 (got "${env.ROLLOUT_LEADER_TIMEOUT_SECONDS}"); default 30`,
    );
  if (get('METRICS_DATABASE_URL') && !get('DATABASE_URL'))
    throw new ConfigError("METRICS_DATABASE_URL needs DATABASE_URL too (the bot's state cannot live on a read replica)");
  return {
    databaseUrl: get('DATABASE_URL'),
    metricsDatabaseUrl: get('METRICS_DATABASE_URL'),
    dataDir: get('ROLLOUT_DATA_DIR') ?? '.data',
    planPath: get('ROLLOUT_PLAN'),
    createAnalyticsIndex: bool('ROLLOUT_CREATE_INDEX', true),
    leaderTimeoutMs: Number(leaderTimeout) * 1000,
    localUser: get('ROLLOUT_USER') ?? safeUserName(),
    origin: { osUser: safeUserName(), host: safeHostName() },
    admins,
    healthUrl,
    logLevel,
    logFormat: logFormat as Config['logFormat'],
    metricsPort: metricsPort === undefined ? null : Number(metricsPort),
    advertiseUrl,
    slack: slackConfig(get),
  };
}

function slackConfig(get: (k: string) => string | undefined): SlackConfig | null {
  const botToken = get('SLACK_BOT_TOKEN');
  const appToken = get('SLACK_APP_TOKEN');
  const signingSecret = get('SLACK_SIGNING_SECRET');
  if (!botToken) {
    if (appToken || signingSecret)
      throw new ConfigError(
        'SLACK_APP_TOKEN / SLACK_SIGNING_SECRET are set but SLACK_BOT_TOKEN is not; set it (xoxb-…) or unset them for console mode',
      );
    return null;
  }
  if (!botToken.startsWith('xoxb-')) throw new ConfigError('SLACK_BOT_TOKEN must be a bot token starting with xoxb-');
  if (appToken && !appToken.startsWith('xapp-'))
    throw new ConfigError('SLACK_APP_TOKEN must be an app-level token starting with xapp- (Socket Mode)');
  if (!appToken && !signingSecret)
    throw new ConfigError('Slack needs SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) besides SLACK_BOT_TOKEN');
  const channel = get('ROLLOUT_CHANNEL');
  if (!channel || !/^[CG][A-Z0-9]{2,}$/.test(channel))
    throw new ConfigError('ROLLOUT_CHANNEL must be the channel ID (like C0123ABCD) for approvals, checklists, reports and alerts');
  const port = Number(get('PORT') ?? '3000');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError('PORT must be a port number');
  const apiUrl = get('SLACK_API_URL');
  if (apiUrl && !/^https?:\/\/.+\/$/.test(apiUrl))
    throw new ConfigError('SLACK_API_URL must be an http(s) URL ending in / (like https://slack.com/api/)');
  return { botToken, appToken, signingSecret, apiUrl, channel, port };
}

/**
 * This replica's URL for its peers: ROLLOUT_ADVERTISE_URL, else this host's first non-loopback
 * IPv4 address and the port /healthz listens on, which reaches it from another pod and from
 * another replica on the same host alike (each on its own port); 127.0.0.1 on a host with no
 * other address.
 */
export function advertisedUrl(config: Pick<Config, 'advertiseUrl'>, port: number): string {
  if (config.advertiseUrl) return config.advertiseUrl.replace(/\/$/, '');
  const address = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  return `http://${address ?? '127.0.0.1'}:${port}`;
}

function safeHostName(): string {
  try {
    return hostname() || 'unknown-host';
  } catch {
    return 'unknown-host';
  }
}

function safeUserName(): string {
  try {
    return userInfo().username || 'local';
  } catch {
    return 'local';
  }
}

/** The plan named by ROLLOUT_PLAN, else the seed plan. Read here, at the edge: plan.ts only validates. */
export function loadPlan(path: string | undefined): Plan {
  if (!path) return defaultPlan();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PlanError(
      `plan file ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)}); fix ROLLOUT_PLAN or unset it to use the built-in plan`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PlanError(`plan file ${path}: not valid JSON (${(err as Error).message})`);
  }
  return parsePlan(json, `plan file ${path}`);
}
