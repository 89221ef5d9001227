import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ROOT } from './serve-process.js';

/**
 * The Chromium the browser tests drive: CHROMIUM_PATH when set, else the headless Chromium that the
 * @sparticuz/chromium dev dependency ships brotli-compressed inside the package, so `npm ci` is all a machine needs.
 */
export interface TestChromium {
  executablePath: string;
  args: string[];
}

/**
 * Flags of @sparticuz/chromium's Lambda defaults that the tests must not have: one process for everything breaks a
 * second browser context or page; the others switch off the same-origin policy, mixed-content blocking and site
 * isolation, which the sign-in pages are supposed to meet as they are. Playwright sets the headless mode itself.
 */
const DROPPED = [
  /^--single-process$/,
  /^--no-zygote$/,
  /^--disable-web-security$/,
  /^--allow-running-insecure-content$/,
  /^--disable-site-isolation-trials$/,
  /^--disable-features=/,
  /^--headless/,
];

/** Quiet, offline: no update checks, no sync, no first-run UI. */
const OWN_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-gpu'];

export async function testChromium(): Promise<TestChromium> {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv} does not exist; unset it to use the Chromium of the @sparticuz/chromium dev dependency`);
    return { executablePath: fromEnv, args: OWN_ARGS };
  }
  let chromium: typeof import('@sparticuz/chromium').default;
  let packageDir: string;
  try {
    chromium = (await import('@sparticuz/chromium')).default;
    // Its exports name only build/index.js; the bin/ archives and package.json sit one level above.
    packageDir = dirname(dirname(createRequire(join(ROOT, 'package.json')).resolve('@sparticuz/chromium')));
  } catch (err) {
    throw new Error(`no browser: the @sparticuz/chromium dev dependency is not installed (run \`npm ci\`), and CHROMIUM_PATH is not set (${String(err)})`, { cause: err });
  }
  const args = [...chromium.args.filter((a) => !DROPPED.some((d) => d.test(a))), ...OWN_ARGS];
  return { executablePath: await extracted(chromium, packageDir), args: [...new Set(args)] };
}

/**
 * Unpacks the package's Chromium once per version into node_modules/.cache. The package's own extraction writes
 * straight to the final paths in $TMPDIR and takes any existing file there as done, so a second test process
 * starting meanwhile would launch a half-written binary. Here each process unpacks into a directory of its own and
 * renames it into place in one step; a process that loses the race throws its copy away and uses the winner's.
 */
async function extracted(chromium: typeof import('@sparticuz/chromium').default, packageDir: string): Promise<string> {
  const { version } = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as { version: string };
  const cache = join(ROOT, 'node_modules', '.cache');
  const final = join(cache, `sparticuz-chromium-${version}`);
  const binary = join(final, 'chromium');
  if (existsSync(binary)) return binary;
  await mkdir(cache, { recursive: true });
  const staging = await mkdtemp(join(cache, `.sparticuz-chromium-${version}-`));
  // The package unpacks into os.tmpdir(), which reads TMPDIR on every call.
  const savedTmp = process.env.TMPDIR;
  try {
    process.env.TMPDIR = staging;
    const unpacked = await chromium.executablePath(join(packageDir, 'bin'));
    if (unpacked !== join(staging, 'chromium')) throw new Error(`@sparticuz/chromium unpacked to ${unpacked}, not into ${staging}`);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  } finally {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
  }
  try {
    await rename(staging, final);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    await rm(staging, { recursive: true, force: true });
  }
  return binary;
}
