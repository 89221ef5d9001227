import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * What flowpos-mcp is measured as: by default the build that ships (`npm run build`, tsc into dist/, which the
 * Dockerfile runs); BENCH_FROM_SOURCE=1 measures src/ under tsx instead, which costs the server ~14 % more CPU
 * per call (bench/ab.ts, 2026-12-07) and would understate what an instance does in production.
 */
export const FROM_SOURCE = process.env.BENCH_FROM_SOURCE === '1';

const built = new Set<string>();

/** Builds dist/ of the checkout at `root` once per process (a few seconds); throws with tsc's output if it fails. */
export function ensureBuilt(root: string): void {
  if (FROM_SOURCE || built.has(root)) return;
  const started = Date.now();
  const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error || r.status !== 0) {
    throw new Error(`npm run build failed in ${root} (set BENCH_FROM_SOURCE=1 to measure src/ under tsx):\n${r.stdout}${r.stderr}${r.error?.message ?? ''}`);
  }
  built.add(root);
  process.stdout.write(`built ${root}dist/ for the benchmark in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

/** This checkout's root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
