import { randomBytes } from 'node:crypto';

/** 128 random bits, base64url: visible ASCII as the spec requires, unguessable, and free of Redis hash-tag braces. */
export function newSessionId(): string {
  return randomBytes(16).toString('base64url');
}

const VISIBLE_ASCII = /^[\x21-\x7e]{1,128}$/;

/** Anything outside the spec's visible-ASCII range (or absurdly long) cannot be a session we issued. */
export function isWellFormedSessionId(id: string): boolean {
  return VISIBLE_ASCII.test(id);
}
