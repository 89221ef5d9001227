// The conformance CLI imports `globSync` from 'fs', which Node 20 lacks (it arrived in 22). Loaded with
// `node --import`, this file points the CLI's 'fs' at a module that adds it; nothing else is touched.
import { readdirSync } from 'node:fs';
import { register } from 'node:module';

const SELF = import.meta.url;
const FACADE = new URL('?fs-with-glob', SELF).href;

/** Enough of globSync for the CLI's one use (`**` and `*` segments, a cwd): the matching relative paths, sorted. */
export function globSync(pattern, options = {}) {
  const segments = pattern.split('/');
  const source = segments
    .map((seg, i) => {
      if (seg === '**') return i === segments.length - 1 ? '.*' : '(?:[^/]+/)*';
      const literal = seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '[^/]*').replaceAll('?', '[^/]');
      return i === segments.length - 1 ? literal : `${literal}/`;
    })
    .join('');
  const matcher = new RegExp(`^${source}$`);
  return readdirSync(options.cwd ?? process.cwd(), { recursive: true })
    .map((entry) => String(entry).split('\\').join('/'))
    .filter((entry) => matcher.test(entry))
    .sort();
}

export async function resolve(specifier, context, next) {
  if ((specifier === 'fs' || specifier === 'node:fs') && context.parentURL?.includes('/@modelcontextprotocol/conformance/')) {
    return { url: FACADE, shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (url === FACADE) {
    const source = `import fs from 'node:fs'; export * from 'node:fs'; export default fs; export { globSync } from ${JSON.stringify(SELF)};`;
    return { format: 'module', source, shortCircuit: true };
  }
  return next(url, context);
}

// In the hooks thread (and on a Node that has globSync) there is nothing to register.
if (!('globSync' in (await import('node:fs')))) register(SELF);
