import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createKeySpace, DEFAULT_KEY_PREFIX, encodeKeyPart, InvalidKeyPartError } from '../../src/state/keys.js';

it('names keys as documented, with mcp: as the default prefix', () => {
  const keys = createKeySpace();
  assert.equal(DEFAULT_KEY_PREFIX, 'mcp:');
  assert.equal(keys.session('abc-123'), 'mcp:session:abc-123');
  assert.equal(keys.cart({ businessId: 'b1', userId: 'u1', handle: 'default' }), 'mcp:cart:{b1:u1}:default');
  assert.equal(keys.activeBusiness('u1'), 'mcp:user:{u1}:active_business');
  assert.equal(keys.sessionChannel('abc-123'), 'mcp:bus:session:{abc-123}');
  assert.equal(createKeySpace('app.1:').session('s'), 'app.1:session:s');
});

it('encodes caller-provided parts injectively and without separators', () => {
  const samples = ['a', 'a:b', 'a%3Ab', '%', '%25', '{x}', 'x}', ':', 'ä', '%C3%A4', '😀', 'a b', 'a~b.c_d-e', '*', '?'];
  const encoded = samples.map((s) => encodeKeyPart('part', s));
  assert.equal(new Set(encoded).size, samples.length);
  for (const e of encoded) assert.match(e, /^[A-Za-z0-9._~%-]+$/);
  assert.equal(encodeKeyPart('part', 'a~b.c_d-e'), 'a~b.c_d-e');
  assert.equal(encodeKeyPart('part', 'a:b{c}'), 'a%3Ab%7Bc%7D');
  assert.equal(encodeKeyPart('part', 'ä'), '%C3%A4');
});

it('every cart key has exactly one hash tag: {business:user}', () => {
  const keys = createKeySpace('p:');
  const key = keys.cart({ businessId: '{b}', userId: 'u}:{', handle: '}{' });
  assert.equal(key, 'p:cart:{%7Bb%7D:u%7D%3A%7B}:%7D%7B');
  assert.equal(key.split('{').length, 2);
  assert.equal(key.split('}').length, 2);
});

it('refuses parts that could not be stored faithfully, and unsafe prefixes', () => {
  const keys = createKeySpace();
  for (const bad of ['', 'x'.repeat(257), '\uD800', 'a\uDC00b']) {
    assert.throws(() => keys.cart({ businessId: 'b', userId: 'u', handle: bad }), InvalidKeyPartError);
    assert.throws(() => keys.activeBusiness(bad), InvalidKeyPartError);
  }
  for (const bad of ['', 'has space', 'ä', 'x'.repeat(257)]) {
    assert.throws(() => keys.session(bad), InvalidKeyPartError);
    assert.throws(() => keys.sessionChannel(bad), InvalidKeyPartError);
  }
  assert.throws(() => createKeySpace('a{b}:'));
  assert.throws(() => createKeySpace('a b:'));
  assert.equal(createKeySpace('a*[?]:').scanPattern(), 'a\\*\\[\\?\\]:*');
});
