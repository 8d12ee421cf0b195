import { pathToFileURL } from 'node:url';
import type { Writable } from 'node:stream';
import { DemoOptionError, helpText, parseOptions } from './options.ts';
import { runDemo } from './story.ts';

/** `npm run demo -- [options]`. Exit code 0 done, 1 the demo failed, 2 bad options. */
export async function main(argv: string[], io: { out: Writable; err: Writable }): Promise<number> {
  let options;
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
  main(process.argv.slice(2), { out: process.stdout, err: process.stderr }).then((code) => {
    process.exitCode = code;
  });
}
