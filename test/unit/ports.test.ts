import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { ephemeralLow, freePort, portIsFree } from '../../src/cluster/ports.js';

const listen = (port: number) =>
  new Promise<Server>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });

test('freePort picks a bindable port below the ephemeral range, where no outgoing connection can be given it', async () => {
  const low = ephemeralLow();
  const seen = new Set<number>();
  for (let k = 0; k < 20; k++) {
    const port = await freePort();
    assert.ok(port >= 20000 && port < low, `port ${port} is below the ephemeral range starting at ${low}`);
    seen.add(port);
    const srv = await listen(port);
    await new Promise((r) => srv.close(r));
  }
  assert.ok(seen.size > 1, 'picked at random, not one fixed port');
});

test('portIsFree tells a bound port from a free one', async () => {
  const port = await freePort();
  assert.equal(await portIsFree(port), true);
  const srv = await listen(port);
  try {
    assert.equal(await portIsFree(port), false);
  } finally {
    await new Promise((r) => srv.close(r));
  }
  assert.equal(await portIsFree(port), true);
});
