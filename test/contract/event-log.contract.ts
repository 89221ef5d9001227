import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { SessionEvents } from '../../src/mcp/session-events.js';
import { compareEntryIds, type EventLog, type EventLogOptions } from '../../src/state/event-log.js';
import type { BusMessage, SessionBus } from '../../src/state/session-bus.js';
import { sleep, waitFor, type StoreFactory } from './support.js';

/** The behaviour every EventLog must have. `factory` gives logs over one shared backend. */
export function eventLogContract(factory: StoreFactory<EventLog, EventLogOptions>): void {
  const opts: EventLogOptions = { ttlMs: 60_000, maxEvents: 1000, maxAgeMs: 60_000 };
  const sid = () => randomUUID().replace(/-/g, '');

  it('returns exactly the events after a given one, in order, across connections', async () => {
    const [a, b] = await factory(opts, 2);
    const s = sid();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await (i % 2 ? a! : b!).append(s, 'g', { n: i }));
    for (let i = 1; i < ids.length; i++) assert.equal(compareEntryIds(ids[i]!, ids[i - 1]!), 1, 'ids increase');
    const after = await b!.readAfter(s, 'g', ids[1]!);
    assert.deepEqual(after.map((e) => e.message.n), [2, 3, 4]);
    assert.deepEqual(after.map((e) => e.id), ids.slice(2));
    assert.deepEqual(await a!.readAfter(s, 'g', ids[4]!), []);
    assert.deepEqual((await a!.readAfter(s, 'g', '0-0', 2)).map((e) => e.message.n), [0, 1], 'limit');
  });

  it('never returns another session\'s or another stream\'s events', async () => {
    const [log] = await factory(opts);
    const s1 = sid();
    const s2 = sid();
    const first = await log!.append(s1, 'g', { who: 's1-g' });
    await log!.append(s1, 'post-1', { who: 's1-post' });
    await log!.append(s2, 'g', { who: 's2-g' });
    await log!.append(s1, 'g', { who: 's1-g-2' });
    assert.deepEqual((await log!.readAfter(s1, 'g', '0-0')).map((e) => e.message.who), ['s1-g', 's1-g-2']);
    assert.deepEqual((await log!.readAfter(s1, 'g', first)).map((e) => e.message.who), ['s1-g-2']);
    assert.deepEqual((await log!.readAfter(s2, 'g', '0-0')).map((e) => e.message.who), ['s2-g']);
    assert.deepEqual((await log!.readAfter(s1, 'post-1', '0-0')).map((e) => e.message.who), ['s1-post']);
    assert.deepEqual(await log!.readAfter(s1, 'post-2', '0-0'), []);
  });

  it('keeps stream ids apart whatever they contain', async () => {
    const [log] = await factory(opts);
    const s = sid();
    const streams = ['a', 'a:b', 'a}b', '{a}', 'a%3Ab', 'ü'];
    for (const [i, st] of streams.entries()) await log!.append(s, st, { i });
    for (const [i, st] of streams.entries()) assert.deepEqual((await log!.readAfter(s, st, '0-0')).map((e) => e.message.i), [i], st);
  });

  it('trims to about maxEvents', async () => {
    const [log] = await factory({ ...opts, maxEvents: 10 });
    const s = sid();
    for (let i = 0; i < 500; i++) await log!.append(s, 'g', { i });
    const kept = await log!.readAfter(s, 'g', '0-0', 10_000);
    assert.ok(kept.length < 500, `trimmed (kept ${kept.length})`);
    assert.equal(kept[kept.length - 1]!.message.i, 499, 'the newest are kept');
  });

  it('forgets an idle stream after its TTL, refreshed by each append', async () => {
    const [log] = await factory({ ...opts, ttlMs: 300 });
    const s = sid();
    await log!.append(s, 'g', { i: 1 });
    await sleep(200);
    await log!.append(s, 'g', { i: 2 });
    await sleep(200);
    assert.equal((await log!.readAfter(s, 'g', '0-0')).length, 2);
    await sleep(400);
    assert.deepEqual(await log!.readAfter(s, 'g', '0-0'), []);
  });
}

/**
 * A log that announces (RedisEventLog with an announcer, see event-append.lua): appendAndAnnounce logs the event
 * and a subscriber of the bus on another connection hears exactly what SessionEvents would have published itself,
 * event id included; and SessionEvents.publish takes that path, so the event is published once, not twice.
 */
export function announcingEventLogContract(make: () => Promise<{ log: EventLog; bus: SessionBus; listener: SessionBus }>): void {
  it('appendAndAnnounce logs the event and publishes it on the session channel with its entry id, in one call', async () => {
    const { log, bus, listener } = await make();
    assert.equal(log.announcesOn, bus);
    const sessionId = randomUUID();
    const heard: BusMessage[] = [];
    const unsubscribe = await listener.subscribe(sessionId, (m) => heard.push(m));
    try {
      const message = { jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'pos://carts/"x"\u00e9' } };
      const entryId = await log.appendAndAnnounce!(sessionId, 'g', message);
      await waitFor(() => heard.length === 1, 'the announcement');
      assert.deepEqual(heard[0], { kind: 'message', streamId: 'g', eventId: `g/${entryId}`, message });
      assert.deepEqual(await log.readAfter(sessionId, 'g', '0-0'), [{ id: entryId, message }]);

      // Through SessionEvents: one event in the log, one message on the bus.
      const events = new SessionEvents(log, bus);
      const eventId = await events.publish(sessionId, 'p-1', { jsonrpc: '2.0', method: 'm', params: { n: 2 } });
      await waitFor(() => heard.length === 2, 'the second announcement');
      await sleep(100);
      assert.equal(heard.length, 2, 'published once');
      assert.deepEqual(heard[1], { kind: 'message', streamId: 'p-1', eventId, message: { jsonrpc: '2.0', method: 'm', params: { n: 2 } } });
      // Plain append still only logs.
      await log.append(sessionId, 'g', { quiet: true });
      await sleep(100);
      assert.equal(heard.length, 2);
    } finally {
      await unsubscribe();
    }
  });
}
