import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { leaderTimings } from '../../src/engine/leader.ts';

describe('ROLLOUT_LEADER_TIMEOUT_SECONDS', () => {
  it('defaults to the 30 s window: heartbeat every 10 s, lock queries up to 5 s', () => {
    expect(loadConfig({}).leaderTimeoutMs).toBe(30_000);
    expect(leaderTimings(loadConfig({}).leaderTimeoutMs)).toEqual({ heartbeatMs: 10_000, sessionTimeoutMs: 30_000, queryTimeoutMs: 5_000 });
    expect(leaderTimings()).toEqual(leaderTimings(30_000));
  });

  it('a shorter window scales the heartbeat and caps the lock query with it', () => {
    expect(leaderTimings(loadConfig({ ROLLOUT_LEADER_TIMEOUT_SECONDS: '9' }).leaderTimeoutMs)).toEqual({
      heartbeatMs: 3_000,
      sessionTimeoutMs: 9_000,
      queryTimeoutMs: 3_000,
    });
  });

  it.each(['2', '3601', '1.5', 'soon', '-5'])('refuses %s, saying what it takes', (v) => {
    expect(() => loadConfig({ ROLLOUT_LEADER_TIMEOUT_SECONDS: v })).toThrow(ConfigError);
    expect(() => loadConfig({ ROLLOUT_LEADER_TIMEOUT_SECONDS: v })).toThrow(/whole number of seconds from 3 to 3600/);
  });
});
