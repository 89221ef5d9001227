import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import type { BusMessage, SessionBus } from '../../src/state/session-bus.js';
import { waitFor } from './support.js';

export interface SessionBusHarness {
  /** `n` buses over one backend, as `n` server instances would have (Redis: each with its own connections). */
  buses(n: number, opts?: { onError?: (err: unknown) => void }): Promise<SessionBus[]>;
  /** How many backend subscriptions a session's channel has, where the backend can tell (Redis PUBSUB NUMSUB). */
  subscriptionCount?(sessionId: string): Promise<number>;
}

class Inbox {
  readonly messages: BusMessage[] = [];
  readonly handler = (message: BusMessage) => {
    this.messages.push(message);
  };
  get payloads() {
    return this.messages.map((m) => (m.kind === 'message' ? m.message : m.kind));
  }
  async waitFor(count: number, what = 'messages') {
    await waitFor(() => this.messages.length >= count, `${count} ${what}`);
  }
}

const msg = (message: Record<string, unknown>): BusMessage => ({ kind: 'message', message });

/** The behaviour every SessionBus must have. */
export function sessionBusContract(harness: SessionBusHarness): void {
  /**
   * Publishes to `sessionId`, then to a fresh sentinel session, and waits for the sentinel. Both go over the same
   * connections, so anything the first publish was going to deliver has been delivered by then.
   */
  async function publishAndSettle(publisher: SessionBus, receiver: SessionBus, sessionId: string, message: BusMessage) {
    const sentinel = new Inbox();
    const sentinelId = randomUUID();
    const unsubscribe = await receiver.subscribe(sentinelId, sentinel.handler);
    await publisher.publish(sessionId, message);
    await publisher.publish(sentinelId, msg({ sentinel: true }));
    await sentinel.waitFor(1, 'sentinel');
    await unsubscribe();
  }

  it('delivers a message published by one instance to a subscriber on another', async () => {
    const [a, b] = await harness.buses(2);
    const session = randomUUID();
    const inbox = new Inbox();
    await b!.subscribe(session, inbox.handler);
    await a!.publish(session, msg({ jsonrpc: '2.0', method: 'notifications/progress', params: { n: 1, nested: { ok: true } } }));
    await inbox.waitFor(1);
    assert.deepEqual(inbox.messages, [msg({ jsonrpc: '2.0', method: 'notifications/progress', params: { n: 1, nested: { ok: true } } })]);
  });

  it('delivers close messages', async () => {
    const [a, b] = await harness.buses(2);
    const session = randomUUID();
    const inbox = new Inbox();
    await b!.subscribe(session, inbox.handler);
    await a!.publish(session, { kind: 'close' });
    await inbox.waitFor(1);
    assert.deepEqual(inbox.messages, [{ kind: 'close' }]);
  });

  it("does not deliver other sessions' messages", async () => {
    const [a, b] = await harness.buses(2);
    const mine = randomUUID();
    const other = randomUUID();
    const inbox = new Inbox();
    const otherInbox = new Inbox();
    await b!.subscribe(mine, inbox.handler);
    await b!.subscribe(other, otherInbox.handler);
    await publishAndSettle(a!, b!, other, msg({ for: 'other' }));
    await a!.publish(mine, msg({ for: 'mine' }));
    await inbox.waitFor(1);
    assert.deepEqual(inbox.payloads, [{ for: 'mine' }]);
    assert.deepEqual(otherInbox.payloads, [{ for: 'other' }]);
  });

  it('keeps order and fans out to every instance subscribed to the session', async () => {
    const [a, b, c] = await harness.buses(3);
    const session = randomUUID();
    const inB = new Inbox();
    const inC = new Inbox();
    await b!.subscribe(session, inB.handler);
    await c!.subscribe(session, inC.handler);
    await Promise.all(Array.from({ length: 50 }, (_, i) => a!.publish(session, msg({ i }))));
    await inB.waitFor(50);
    await inC.waitFor(50);
    const expected = Array.from({ length: 50 }, (_, i) => ({ i }));
    assert.deepEqual(inB.payloads, expected);
    assert.deepEqual(inC.payloads, expected);
  });

  it('local subscribers of one session share one subscription, dropped when the last unsubscribes', async () => {
    const [a, b] = await harness.buses(2);
    const session = randomUUID();
    const inboxes = Array.from({ length: 5 }, () => new Inbox());
    const unsubscribes = await Promise.all(inboxes.map((inbox) => b!.subscribe(session, inbox.handler)));
    if (harness.subscriptionCount) assert.equal(await harness.subscriptionCount(session), 1);
    await a!.publish(session, msg({ n: 1 }));
    for (const inbox of inboxes) await inbox.waitFor(1);

    await unsubscribes[0]!();
    await unsubscribes[0]!(); // idempotent
    await publishAndSettle(a!, b!, session, msg({ n: 2 }));
    assert.deepEqual(inboxes[0]!.payloads, [{ n: 1 }]);
    for (const inbox of inboxes.slice(1)) assert.deepEqual(inbox.payloads, [{ n: 1 }, { n: 2 }]);

    await Promise.all(unsubscribes.slice(1).map((u) => u()));
    if (harness.subscriptionCount) assert.equal(await harness.subscriptionCount(session), 0);
    await publishAndSettle(a!, b!, session, msg({ n: 3 }));
    for (const inbox of inboxes) assert.equal(inbox.messages.some((m) => m.kind === 'message' && m.message.n === 3), false);
  });

  it('subscribing again right after the last unsubscribe works', async () => {
    const [a, b] = await harness.buses(2);
    const session = randomUUID();
    const first = new Inbox();
    const unsubscribe = await b!.subscribe(session, first.handler);
    const leaving = unsubscribe();
    const second = new Inbox();
    const subscribing = b!.subscribe(session, second.handler);
    await leaving;
    await subscribing;
    await a!.publish(session, msg({ again: true }));
    await second.waitFor(1);
    assert.deepEqual(second.payloads, [{ again: true }]);
    assert.deepEqual(first.payloads, []);
    if (harness.subscriptionCount) assert.equal(await harness.subscriptionCount(session), 1);
  });

  it('the same function subscribed twice is two subscriptions', async () => {
    const [a, b] = await harness.buses(2);
    const session = randomUUID();
    const inbox = new Inbox();
    const u1 = await b!.subscribe(session, inbox.handler);
    await b!.subscribe(session, inbox.handler);
    await a!.publish(session, msg({ n: 1 }));
    await inbox.waitFor(2);
    await u1();
    await publishAndSettle(a!, b!, session, msg({ n: 2 }));
    assert.deepEqual(inbox.payloads, [{ n: 1 }, { n: 1 }, { n: 2 }]);
  });

  it('every subscriber gets its own copy of the message', async () => {
    const [a, b] = await harness.buses(2);
    const session = randomUUID();
    const received: BusMessage[] = [];
    const mutateFirst = (m: BusMessage) => {
      received.push(m);
      if (m.kind === 'message') (m.message.params as Record<string, unknown>).seen = true;
    };
    const keep = (m: BusMessage) => received.push(m);
    await b!.subscribe(session, mutateFirst);
    await b!.subscribe(session, keep);
    const sent = { params: { value: 1 } };
    const publishing = a!.publish(session, msg(sent));
    sent.params.value = 2;
    await publishing;
    await waitFor(() => received.length === 2, 'two deliveries');
    assert.notEqual(received[0], received[1]);
    assert.deepEqual(received[1], msg({ params: { value: 1 } }));
  });

  it('a subscriber that throws does not affect the others', async () => {
    const errors: unknown[] = [];
    const [a, b] = await harness.buses(2, { onError: (err) => errors.push(err) });
    const session = randomUUID();
    await b!.subscribe(session, () => {
      throw new Error('subscriber failure');
    });
    const inbox = new Inbox();
    await b!.subscribe(session, inbox.handler);
    await a!.publish(session, msg({ n: 1 }));
    await a!.publish(session, msg({ n: 2 }));
    await inbox.waitFor(2);
    await waitFor(() => errors.length === 2, 'errors reported');
    assert.deepEqual(inbox.payloads, [{ n: 1 }, { n: 2 }]);
  });

  it('refuses malformed session ids and messages', async () => {
    const [bus] = await harness.buses(1);
    for (const id of ['', 'has space', 'x'.repeat(300)]) {
      await assert.rejects(bus!.publish(id, msg({})));
      await assert.rejects(bus!.subscribe(id, () => {}));
    }
    await assert.rejects(bus!.publish(randomUUID(), { kind: 'nope' } as unknown as BusMessage));
    await assert.rejects(bus!.publish(randomUUID(), { kind: 'message', message: null } as unknown as BusMessage));
  });

  it('after close, publish and subscribe reject', async () => {
    const [bus] = await harness.buses(1);
    await bus!.close();
    await bus!.close(); // idempotent
    await assert.rejects(bus!.publish(randomUUID(), msg({})));
    await assert.rejects(bus!.subscribe(randomUUID(), () => {}));
  });
}
