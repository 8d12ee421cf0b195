#!/usr/bin/env node
// `npx rollout …`: runs the TypeScript CLI through tsx, the same runtime as `npm start`.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
