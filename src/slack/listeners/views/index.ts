import type { App } from '@slack/bolt';
import { VIEW } from '../../../render/blocks/modals.ts';
import type { ListenerDeps } from '../../answer.ts';
import { rejectReasonSubmitted } from './reject-reason.ts';
import { rollbackReasonSubmitted } from './rollback-reason.ts';

export function register(app: App, deps: ListenerDeps): void {
  app.view({ callback_id: VIEW.rollbackReason, type: 'view_submission' }, rollbackReasonSubmitted(deps));
  app.view({ callback_id: VIEW.rejectReason, type: 'view_submission' }, rejectReasonSubmitted(deps));
}
