import { describe, expect, it } from 'vitest';
import { outcomeMessage } from '../../../src/render/blocks/outcome.ts';
import { rolloutCommand } from '../../../src/slack/listeners/commands/rollout.ts';
import type { TestDatabase } from '../../support/db.ts';
import { alice, mallory } from '../../support/engine.ts';
import { commandArgs, listenerDeps, type ListenerFixture, listenerFixture, type SlackServers } from '../../support/listener.ts';

/** `/rollout <text>`: ack at once, then the core's answer through the response_url, privately. */
let db: TestDatabase;
let slack: SlackServers;
let t: ListenerFixture['t'];
listenerFixture((f) => ({ db, slack, t } = f));

const audit = async () => (await db.app.query(`SELECT actor, action, outcome, detail FROM rollout.audit ORDER BY id`)).rows;

describe('/rollout', () => {
  it('acks first, then answers help through the response_url, ephemeral and not replacing anything', async () => {
    const { args, ack, replies } = commandArgs(slack, alice.id, 'help');
    await rolloutCommand(t.deps)(args);
    expect(slack.timeline).toEqual(['ack', 'respond']);
    expect(ack.calls).toEqual([undefined]);
    const expected = outcomeMessage(t.service.plan, (await t.service.handle('help', alice)).outcome);
    expect(replies).toEqual([{ response_type: 'ephemeral', replace_original: false, text: expected.text, blocks: expected.blocks }]);
    expect(replies[0].text).toContain('Commands:');
    expect(t.kicks.count).toBe(1);
  });

  it('an empty command is the status', async () => {
    const { args, replies } = commandArgs(slack, alice.id, '');
    await rolloutCommand(t.deps)(args);
    expect(replies[0].text).toMatch(/^Stage: idle\n/);
  });

  it('names what it did not understand, privately, and changes nothing', async () => {
    const { args, replies } = commandArgs(slack, alice.id, 'promote everything');
    await rolloutCommand(t.deps)(args);
    expect(slack.timeline).toEqual(['ack', 'respond']);
    expect(replies[0].response_type).toBe('ephemeral');
    expect(replies[0].text).toContain('Not understood: "promote" is not a command');
    expect(replies[0].blocks[0].text.text).toContain('Not understood');
    expect(await audit()).toEqual([]);
  });

  it('refuses a non-admin a change (audited), and shows them the status', async () => {
    const refused = commandArgs(slack, mallory.id, 'd1');
    await rolloutCommand(t.deps)(refused.args);
    expect(refused.replies[0].text).toContain('Refused: Only rollout admins may request d1');
    const status = commandArgs(slack, mallory.id, 'status');
    await rolloutCommand(t.deps)(status.args);
    expect(status.replies[0].text).toContain('Stage: idle');
    expect((await audit()).map((r) => [r.actor, r.action, r.outcome])).toEqual([[mallory.id, 'promote', 'refused']]);
  });

  it('a request is answered privately and kicks the outbox, whose drain posts it to the channel', async () => {
    const { args, ack, replies } = commandArgs(slack, alice.id, '  D1 ');
    await rolloutCommand(t.deps)(args);
    expect(ack.calls).toHaveLength(1);
    expect(slack.timeline[0]).toBe('ack');
    expect(replies[0]).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(replies[0].text).toContain('Requested d1 (request #1)');
    expect(t.kicks.count).toBe(1);
    expect((await db.app.query(`SELECT kind FROM rollout.outbox`)).rows.map((r) => r.kind)).toEqual(['request_opened']);
  });

  it('a core that has not answered in time gets "not answered yet" first, then the answer', async () => {
    t = listenerDeps(db, { answerWithinMs: 1 });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const handle = t.service.handle.bind(t.service);
    t.service.handle = async (text, actor) => {
      await held;
      return handle(text, actor);
    };
    const { args, replies } = commandArgs(slack, alice.id, 'status', 2);
    const done = rolloutCommand(t.deps)(args);
    await expect.poll(() => replies.length).toBe(1);
    expect(replies[0].text).toMatch(/^The database has not answered within 0\.0 s; it may be unavailable/);
    release();
    await done;
    expect(slack.timeline).toEqual(['ack', 'respond', 'respond']);
    expect(replies[1].text).toContain('Stage: idle');
  });
});
