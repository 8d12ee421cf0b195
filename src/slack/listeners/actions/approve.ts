import type { ListenerDeps } from '../../answer.ts';
import { buttonListener } from './button.ts';
import { decide } from './decide.ts';

export const approveButton = (deps: ListenerDeps) => buttonListener(deps, (actor, raw) => decide(deps, actor, raw, 'approve'));
