import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import GithubSlugger from 'github-slugger';
import { Lexer, walkTokens, type Tokens } from 'marked';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { promtool, promtoolChecks } from '../support/promtool.ts';

// The alerting rules the project ships (deploy/prometheus), checked as Prometheus would load
// them, run against their unit tests, and held to what the on-call needs from each alert.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const RULES = 'deploy/prometheus/rollout-bot-rules.yml';
const TESTS = 'deploy/prometheus/rollout-bot-rules.test.yml';

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTest {
  name: string;
  alert_rule_test?: { eval_time: string; alertname: string; exp_alerts: unknown[] }[];
}

const read = (path: string) => readFileSync(resolve(ROOT, path), 'utf8');
const alerts: AlertRule[] = parse(read(RULES)).groups.flatMap((g: { rules: AlertRule[] }) => g.rules.filter((r) => r.alert));
const ruleTests: RuleTest[] = parse(read(TESTS)).tests;

function anchors(markdownPath: string): Set<string> {
  const slugger = new GithubSlugger();
  const found = new Set<string>();
  walkTokens(new Lexer({ gfm: true }).lex(read(markdownPath)), (t) => {
    if (t.type === 'heading') found.add(slugger.slug((t as Tokens.Heading).text));
  });
  return found;
}

// promtool is a process of its own: on a loaded machine it takes seconds, past the unit project's 5 s default.
describe.skipIf(!promtoolChecks)('promtool', { timeout: 60_000 }, () => {
  it('check rules: the file loads as Prometheus would load it', async () => {
    const { code, output } = await promtool(['check', 'rules', resolve(ROOT, RULES)]);
    expect(output).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(code).toBe(0);
  });

  it('test rules: every alert fires when it should, not before its `for`, and not when it should not', async () => {
    const { code, output } = await promtool(['test', 'rules', resolve(ROOT, TESTS)]);
    expect(output).toContain('SUCCESS');
    expect(output).not.toContain('FAILED');
    expect(code).toBe(0);
  });

  it("check config: operations.md's prometheus.yml loads, pointed at the shipped rules", async () => {
    const section = read('docs/operations.md').split('## Alerting rules')[1] ?? '';
    const config = /```yaml\n(rule_files:[\s\S]*?)```/.exec(section)?.[1];
    expect(config, 'a ```yaml block with rule_files in § Alerting rules').toBeTruthy();
    const dir = mkdtempSync(join(tmpdir(), 'rollout-prometheus-'));
    try {
      const file = join(dir, 'prometheus.yml');
      writeFileSync(file, config!.replace(/^(\s*- )\S+rollout-bot-rules\.yml/m, `$1${resolve(ROOT, RULES)}`));
      const { code, output } = await promtool(['check', 'config', file]);
      expect(output).toContain(`SUCCESS: ${alerts.length} rules found`);
      expect(code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('each alert', () => {
  const opsAnchors = anchors('docs/operations.md');

  it.each(alerts.map((a) => [a.alert, a]))('%s has a severity, a summary, a description and a runbook section', (_, a) => {
    expect(['critical', 'warning']).toContain(a.labels?.severity);
    expect(a.annotations?.summary, 'summary').toBeTruthy();
    expect(a.annotations?.description, 'description').toBeTruthy();
    const runbook = a.annotations?.runbook_url ?? '';
    expect(runbook).toMatch(/^docs\/operations\.md#/);
    const anchor = runbook.split('#')[1];
    expect(opsAnchors.has(anchor), `docs/operations.md has no heading #${anchor}`).toBe(true);
    expect(anchor).toBe(a.alert.toLowerCase());
  });

  it.each(alerts.map((a) => [a.alert]))('%s is tested both firing and silent', (name) => {
    const cases = ruleTests.flatMap((t) => (t.alert_rule_test ?? []).filter((c) => c.alertname === name));
    expect(
      cases.some((c) => c.exp_alerts.length > 0),
      'a case where it fires',
    ).toBe(true);
    expect(
      cases.some((c) => c.exp_alerts.length === 0),
      'a case where it does not (yet)',
    ).toBe(true);
  });

  it('every series of the job is aggregated by job, so several replicas give one alert', () => {
    for (const a of alerts) {
      // Per-replica alerts name the replica; every other one aggregates the replicas away.
      if (a.alert === 'RolloutBotReplicaDown' || a.alert === 'RolloutBotDown') continue;
      expect(a.expr, a.alert).toMatch(/\b(max|min|sum|count) by \(job\b/);
    }
  });
});
