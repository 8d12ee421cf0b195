import type { App } from '@slack/bolt';
import { ACTION } from '../../../render/blocks/buttons.ts';
import type { ListenerDeps } from '../../answer.ts';
import { approveButton } from './approve.ts';
import { rejectButton } from './reject.ts';
import { requestStageButton } from './request-stage.ts';
import { rollbackButton } from './rollback.ts';
import type { ButtonArgs } from './button.ts';

type Handler = (args: ButtonArgs) => Promise<void>;
const on = (app: App, actionId: string, handler: Handler) => app.action({ type: 'block_actions', action_id: actionId }, handler as never);

export function register(app: App, deps: ListenerDeps): void {
  on(app, ACTION.approve, approveButton(deps));
  on(app, ACTION.reject, rejectButton(deps));
  on(app, ACTION.rollback, rollbackButton(deps));
  on(app, ACTION.requestStage, requestStageButton(deps));
}
