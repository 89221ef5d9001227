import { randomBytes } from 'node:crypto';

/** RFC 4648 base32 alphabet in lower case: no `_`, `-` or look-alike punctuation, safe in URLs and key formats. */
export const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** `length` random characters from BASE32_ALPHABET (5 bits of entropy each), from the CSPRNG. */
export function randomBase32(length: number): string {
  const bytes = randomBytes(Math.ceil((length * 5) / 8));
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < length) {
      out += BASE32_ALPHABET[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}
