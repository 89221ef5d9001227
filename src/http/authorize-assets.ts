import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The files the sign-in page loads, all from this server: our script and stylesheet, and the Firebase Web SDK's
 * browser builds from the `firebase` package. Serving the SDK ourselves keeps third-party code away from the page
 * where a person types their password (only Google's iframe helper for the Google popup is loaded from elsewhere)
 * and makes the email sign-in work where gstatic.com is unreachable. firebase-auth.js imports firebase-app.js by its gstatic URL; that one import is
 * rewritten to the copy beside it.
 */
export interface Asset {
  body: string;
  contentType: string;
  /** Versioned by the firebase package: may be cached long. Ours change with deployments. */
  maxAgeSeconds: number;
}

const ASSETS_DIR = new URL('./assets/', import.meta.url);

export function loadAuthorizeAssets(): Map<string, Asset> {
  const require = createRequire(import.meta.url);
  const firebaseDir = dirname(require.resolve('firebase/package.json'));
  const { version } = JSON.parse(readFileSync(join(firebaseDir, 'package.json'), 'utf8')) as { version: string };
  const gstatic = `https://www.gstatic.com/firebasejs/${version}/firebase-app.js`;
  const firebaseAuth = readFileSync(join(firebaseDir, 'firebase-auth.js'), 'utf8');
  if (!firebaseAuth.includes(gstatic)) throw new Error(`firebase ${version}: firebase-auth.js no longer imports ${gstatic}; update authorize-assets.ts`);
  const js = 'text/javascript; charset=utf-8';
  return new Map<string, Asset>([
    ['firebase-app.js', { body: readFileSync(join(firebaseDir, 'firebase-app.js'), 'utf8'), contentType: js, maxAgeSeconds: 86_400 }],
    ['firebase-auth.js', { body: firebaseAuth.split(gstatic).join('./firebase-app.js'), contentType: js, maxAgeSeconds: 86_400 }],
    ['sign-in.js', { body: readFileSync(new URL('sign-in.js', ASSETS_DIR), 'utf8'), contentType: js, maxAgeSeconds: 300 }],
    ['page.css', { body: readFileSync(new URL('page.css', ASSETS_DIR), 'utf8'), contentType: 'text/css; charset=utf-8', maxAgeSeconds: 300 }],
  ]);
}
