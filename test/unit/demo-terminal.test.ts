import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { defaultPlan } from '../../src/plan/plan.ts';
import { eventMessage } from '../../src/render/blocks/events.ts';
import { changedLines, messageLines, mrkdwnText, type Style } from '../../src/demo/terminal.ts';
import { Screen } from '../../src/demo/screen.ts';
import { demoPlan } from '../../src/demo/plan.ts';

const plain: Style = { color: false, names: { U0ALICE: 'alice' } };

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

describe('terminal rendering of Block Kit', () => {
  it('mrkdwn: bold, mentions, emoji and entities become terminal text', () => {
    expect(mrkdwnText(':rewind: *<@U0ALICE> rolled back D2* (demo): a &lt; b &amp; `gen_route`', plain)).toBe(
      '⏪ @alice rolled back D2 (demo): a < b & `gen_route`',
    );
    expect(mrkdwnText('*bold*', { ...plain, color: true })).toBe('\x1b[1mbold\x1b[22m');
    expect(mrkdwnText('latency_ms and _italic_ :unknown_code:', plain)).toBe('latency_ms and italic :unknown_code:');
  });

  it('a real alert from the Block Kit builders: sections, context and buttons', () => {
    const plan = defaultPlan();
    const line = {
      name: 'p95LatencyMs' as const,
      state: 'breach' as const,
      value: 9120,
      threshold: 8000,
      windowMs: 300_000,
      samples: 400,
      candidateRequests: 400,
      fromValue: 4100,
    };
    const lines = messageLines(
      eventMessage(plan, {
        kind: 'breach_started',
        runId: 1,
        stage: 'd2',
        line,
        forMs: 300_000,
        at: '2026-11-28T09:10:00.000Z',
        shadow: false,
      }),
      plain,
    );
    expect(lines).toEqual([
      '🚨 p95 latency is in breach at D2',
      '🔴 p95 latency 9.12 s (red line ≥ 8.00 s, 5m window, n=400): BREACH',
      'Auto-rollback in 5m (at 09:15:00 UTC) if it holds for the whole time.',
      '[ Roll back now ]',
    ]);
  });

  it('an edit shows the lines whose state changed, not every moved number', () => {
    const before = ['⏳ Soak 1m of 3m (2m left)', '✅ p95 latency 3.71 s: ok', 'Checked 09:01 UTC'];
    const after = ['⏳ Soak 2m of 3m (1m left)', '🔴 p95 latency 8.20 s: BREACH for 0s of 5m', 'Checked 09:02 UTC'];
    expect(changedLines(before, after)).toEqual(['🔴 p95 latency 8.20 s: BREACH for 0s of 5m']);
    expect(changedLines(['⏳ Soak 2m 30s of 3m (30s left)'], ['✅ Soak 3m done'])).toEqual(['✅ Soak 3m done']);
  });
});

describe('the progress line', () => {
  it('on a terminal: redrawn in place and cleared before a message', () => {
    const out = new Capture();
    const screen = new Screen(out, { tty: true, color: false });
    screen.progress('⏱ 09:00:30', 30_000);
    screen.print('message');
    expect(out.text).toBe('\r\x1b[2K⏱ 09:00:30\r\x1b[2Kmessage\n');
  });

  it('not a terminal: plain lines, at most one per 5 simulated minutes, no control characters', () => {
    const out = new Capture();
    const screen = new Screen(out, { tty: false });
    for (let s = 0; s <= 600; s += 30) screen.progress(`t=${s}`, s * 1000);
    expect(out.text).toBe('t=0\nt=300\nt=600\n');
  });
});

describe('the demo plan', () => {
  it('divides the soaks by the speed and keeps every red line of the seed', () => {
    const { plan, soaks } = demoPlan(60);
    expect(plan.stages.map((s) => s.soakMs)).toEqual([60_000, 180_000, null]);
    expect(soaks).toEqual([
      { stage: 'd1', seedMs: 3_600_000, demoMs: 60_000 },
      { stage: 'd2', seedMs: 10_800_000, demoMs: 180_000 },
    ]);
    expect(plan.redLines).toEqual(defaultPlan().redLines);
    expect(plan.evaluateEveryMs).toBe(30_000);
    expect(demoPlan(null).plan.stages[0].soakMs).toBe(1_000);
  });
});
