#!/usr/bin/env node
// `npx rollout …`: the break-glass CLI, compiled JavaScript like `npm start` (built by `npm ci`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('rollout: dist/ is missing; build it with `npm run build` (npm ci does it), then try again.\n');
  process.exit(1);
}
await import(entry.href);
