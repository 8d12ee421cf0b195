import { spawn } from 'node:child_process';

/** How to get promtool, said by every test that needs it when it is missing. */
export const PROMTOOL_MISSING =
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
