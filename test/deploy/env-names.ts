import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/serve-process.js';

/** Every environment variable src/config.ts reads: the keys of its EnvSchema. Deployment files may set no other. */
export function configEnvNames(): Set<string> {
  const source = readFileSync(join(ROOT, 'src/config.ts'), 'utf8');
  const start = source.indexOf('const EnvSchema = z.object({');
  if (start === -1) throw new Error('src/config.ts has no `const EnvSchema = z.object({`; update test/deploy/env-names.ts');
  const end = source.indexOf('\n});', start);
  const body = source.slice(start, end);
  const names = new Set([...body.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!));
  if (names.size < 10) throw new Error(`found only ${names.size} variables in EnvSchema; update test/deploy/env-names.ts`);
  return names;
}

/** Splits one printed command line as a POSIX shell would (bare words, '…' quoting, \-escapes). */
export function shellWords(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const close = line.indexOf("'", i + 1);
      if (close === -1) throw new Error(`unterminated quote in: ${line}`);
      cur += line.slice(i + 1, close);
      i = close;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (c === ' ' || c === '\t') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/** gcloud's list flags: comma separated, or `^D^` first to choose another delimiter D. */
export function gcloudList(value: string): string[] {
  const m = /^\^(.)\^(.*)$/s.exec(value);
  return m ? m[2]!.split(m[1]!) : value.split(',');
}
