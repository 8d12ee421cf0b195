import { pathToFileURL } from 'node:url';
import type { Writable } from 'node:stream';
import { DemoOptionError, helpText, parseOptions } from './options.ts';
import { runDemo } from './story.ts';

/** `npm run demo -- [options]`. Exit code 0 done, 1 the demo failed, 2 bad options. */
export async function main(argv: string[], io: { out: Writable; err: Writable }): Promise<number> {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions(argv);
  } catch (err) {
    if (!(err instanceof DemoOptionError)) throw err;
    io.err.write(`demo: ${err.message}\n`);
    return 2;
  }
  if (options.help) {
    io.out.write(`${helpText()}\n`);
    return 0;
  }
  try {
    const result = await runDemo(options, { out: io.out });
    return result.outcome === 'rollback_before_fault' || result.outcome === 'stuck_before_d2' ? 1 : 0;
  } catch (err) {
    io.err.write(`demo: failed: ${(err as Error).stack ?? err}\n`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // `npm run demo | head`: a closed pipe ends the demo quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
  // Ctrl-C: leave the terminal on a clean line (the progress line is redrawn in place).
  process.once('SIGINT', () => {
    if (process.stdout.isTTY) process.stdout.write('\r\x1b[2K');
    process.stdout.write('demo interrupted; nothing outside this process was touched.\n');
    process.exit(130);
  });
  main(process.argv.slice(2), { out: process.stdout, err: process.stderr }).then((code) => {
    process.exitCode = code;
  });
}
