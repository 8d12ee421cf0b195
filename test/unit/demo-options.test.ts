import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/demo/main.ts';
import { DemoOptionError, parseOptions } from '../../src/demo/options.ts';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

describe('demo options', () => {
  it('defaults: latency fault, 2m after D2, 4 requests/s, ×60, seed 1', () => {
    expect(parseOptions([])).toEqual({
      fault: 'latency',
      size: 3,
      onsetMs: 120_000,
      rate: 4,
      speed: 60,
      seed: 1,
      charts: null,
      help: false,
    });
  });

  it('reads every option, with a space or an equals sign', () => {
    expect(
      parseOptions([
        '--fault',
        'vouchers',
        '--size=25',
        '--onset',
        '30s',
        '--rate',
        '10',
        '--speed=max',
        '--seed',
        '7',
        '--charts',
        'out/charts',
      ]),
    ).toEqual({
      fault: 'vouchers',
      size: 25,
      onsetMs: 30_000,
      rate: 10,
      speed: null,
      seed: 7,
      charts: 'out/charts',
      help: false,
    });
    expect(parseOptions(['--charts', 'none']).charts).toBe(false);
    expect(parseOptions(['--fault', 'cost']).size).toBe(2);
    expect(parseOptions(['--fault', 'none']).fault).toBe('no-traffic');
    expect(parseOptions(['--help']).help).toBe(true);
  });

  it.each([
    [['--fault', 'disk'], /--fault "disk": unknown fault; use one of latency, errors, cost, vouchers, no-traffic/],
    [['--size', 'big'], /--size "big": not a number/],
    [
      ['--fault', 'errors', '--size', '150'],
      /--size 150: out of range; give the percent of Runware requests that fail for --fault errors from 0 to 100/,
    ],
    [['--onset', 'soon'], /--onset "soon": not a duration; write it like 30s, 2m or 1h/],
    [['--rate', '1'], /--rate 1: out of range.*from 2 to 50/],
    [['--speed', 'fast'], /--speed "fast": not a number.*"max"/],
    [['--speed', '0'], /--speed 0: out of range/],
    [['--seed', '1.5'], /--seed 1.5: must be a whole number/],
    [['--colour'], /--colour: unknown option; see --help/],
    [['fast'], /"fast": not an option/],
    [['--rate'], /--rate needs a value/],
    [['--rate', '--speed', '5'], /--rate needs a value/],
    [['--rate', '3', '--rate', '4'], /--rate is given twice/],
    [['--charts='], /--charts needs a folder, or "none" for no charts/],
  ])('%j is refused with what to do', (argv, message) => {
    expect(() => parseOptions(argv as string[])).toThrow(DemoOptionError);
    expect(() => parseOptions(argv as string[])).toThrow(message);
  });

  it('a bad option exits with code 2 and one line on stderr; --help exits 0', async () => {
    const out = new Capture();
    const err = new Capture();
    expect(await main(['--fault', 'disk'], { out, err })).toBe(2);
    expect(err.text).toBe('demo: --fault "disk": unknown fault; use one of latency, errors, cost, vouchers, no-traffic\n');
    expect(out.text).toBe('');
    expect(await main(['--help'], { out, err })).toBe(0);
    expect(out.text).toContain('npm run demo -- [options]');
    expect(out.text).toContain('--speed <n|max>');
  });
});
