import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isWellFormedSessionId, newSessionId } from '../../src/mcp/session-id.js';

test('session ids are 128-bit base64url, well formed, and never repeat across refills of the random pool', () => {
  const ids = Array.from({ length: 1000 }, () => newSessionId());
  for (const id of ids) {
    assert.match(id, /^[A-Za-z0-9_-]{22}$/);
    assert.ok(isWellFormedSessionId(id));
  }
  assert.equal(new Set(ids).size, ids.length);
  // Each of the 1000 ids carries its own 16 bytes: no id is a shifted copy of its neighbour's bytes.
  const bytes = ids.map((id) => Buffer.from(id, 'base64url'));
  for (const b of bytes) assert.equal(b.length, 16);
  for (let i = 1; i < bytes.length; i++) assert.notDeepEqual(bytes[i]!.subarray(0, 8), bytes[i - 1]!.subarray(8));
});

test('a session id is not a Redis hash tag and has no character outside visible ASCII', () => {
  for (let i = 0; i < 300; i++) assert.doesNotMatch(newSessionId(), /[{}\s]/);
  assert.equal(isWellFormedSessionId('a b'), false);
  assert.equal(isWellFormedSessionId(''), false);
});
