import { spawn, spawnSync } from 'node:child_process';

/**
 * `npm test` needs no services and no system packages, so on a machine without promtool its checks
 * are skipped, and said to be. CI (`.ci/run`) installs promtool and sets ROLLOUT_TEST_REQUIRE_PROMTOOL=1,
 * so there a missing promtool fails every check that needs it rather than skipping it.
 */
export const promtoolChecks = spawnSync('promtool', ['--version']).error === undefined || process.env.ROLLOUT_TEST_REQUIRE_PROMTOOL === '1';
if (!promtoolChecks)
  process.stderr.write('promtool is not installed: the promtool checks of the alerting rules and /metrics are skipped (CI runs them).\n');

/** How to get promtool, said by every test that needs it when it is missing. */
const PROMTOOL_MISSING =
  "promtool is not installed, and the alerting rules and /metrics are checked with it. It ships in Debian's prometheus package: " +
  '`apt-get update && apt-get install -y --no-install-recommends prometheus` as root (`.ci/run` does this when it is missing), ' +
  'or put the promtool of a Prometheus 2.42+ release on PATH.';

/**
 * Runs promtool (from PATH) with `input` on stdin. Missing promtool is a failure that says how to
 * install it, never a skipped check.
 */
export function promtool(args: string[], input?: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new Error(PROMTOOL_MISSING) : err));
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
    child.stdin.on('error', () => {}); // a promtool that exits early closes its stdin; its output says why
    child.stdin.end(input ?? '');
  });
}
