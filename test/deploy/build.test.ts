import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { copies, parseDockerfile } from './dockerfile-parse.js';
import { callTool, openSession, structured } from '../helpers/mcp-http.js';
import { freePort } from '../../src/cluster/ports.js';
import { cleanEnv, ROOT, serveEmbedded, startProcess } from '../helpers/serve-process.js';

/**
 * What the image's build stage does, done here without Docker: copy exactly what the Dockerfile's build stage
 * copies into an empty directory, `npm run build` there, then run the result as the runtime stage would
 * (`node dist/cli.js …`): the SQL migrations and Lua scripts must be next to the compiled code, and the compiled
 * code may import nothing that `npm ci --omit=dev` leaves out.
 */

// tsc needs ~20 s of CPU for src/; on a busy machine the wall time is a multiple of that.
const BUILD_TIMEOUT_MS = 150_000;

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout stops npm and the tsc it started, not npm alone.
    const child = spawn(cmd, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} took longer than ${timeoutMs} ms\n${out}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Bare package names imported by compiled JS (static, dynamic and side-effect imports). */
function importedPackages(js: string): string[] {
  const statements = [...js.matchAll(/^(?:import|export)\s+(?:[^'"`;]*?\s*from\s*)?['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
  const dynamic = [...js.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
  const specs = [...statements, ...dynamic];
  return specs
    .filter((s) => !s.startsWith('.') && !s.startsWith('/') && !s.startsWith('node:'))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!))
    .filter((name) => !builtinModules.includes(name));
}

describe('npm run build, as the image builds it', () => {
  let work: string;
  let built: { code: number | null; out: string };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'flowpos-build-'));
    const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    const stage = dockerfile.stages.find((s) => s.name === 'build')!;
    for (const c of copies(stage).filter((x) => !x.from)) {
      for (const src of c.sources) {
        const into = c.dest.endsWith('/') || c.sources.length > 1 ? join(work, c.dest, src.split('/').at(-1)!) : join(work, c.dest);
        mkdirSync(dirname(into), { recursive: true });
        cpSync(join(ROOT, src), into, { recursive: true });
      }
    }
    // The stage's `npm ci`, without the network: the repository's installed dependencies.
    symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'), 'dir');
    built = await run('npm', ['run', 'build'], work, BUILD_TIMEOUT_MS);
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  test('compiles, with the migrations and Lua scripts next to the compiled code', () => {
    assert.equal(built.code, 0, built.out);
    assert.ok(existsSync(join(work, 'dist/cli.js')));
    for (const dir of ['db/migrations', 'state/lua']) {
      const sources = readdirSync(join(ROOT, 'src', dir));
      assert.ok(sources.length > 0, `src/${dir} has files`);
      for (const name of sources) {
        const copied = join(work, 'dist', dir, name);
        assert.ok(existsSync(copied), `dist/${dir}/${name} is there`);
        assert.equal(readFileSync(copied, 'utf8'), readFileSync(join(ROOT, 'src', dir, name), 'utf8'), `dist/${dir}/${name} is the source's copy`);
      }
    }
  });

  test('the compiled code imports only production dependencies (what `npm ci --omit=dev` installs)', () => {
    assert.equal(built.code, 0, built.out);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const missing: string[] = [];
    for (const file of filesUnder(join(work, 'dist')).filter((f) => f.endsWith('.js'))) {
      for (const name of importedPackages(readFileSync(file, 'utf8'))) {
        if (!(name in pkg.dependencies)) missing.push(`${relative(work, file)} imports ${name}`);
      }
    }
    assert.deepEqual(missing, [], 'every package the compiled code imports is a production dependency');
  });

  test('dist reads its Lua scripts and migrations, prints its help, and serves from embedded state', async () => {
    assert.equal(built.code, 0, built.out);
    const probe = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const { stateScripts } = await import('./dist/state/redis-client.js'); const { loadMigrations } = await import('./dist/db/migrate.js');" +
          "console.log(JSON.stringify({ scripts: Object.keys(stateScripts()).length, migrations: (await loadMigrations()).length }));",
      ],
      work,
      20_000,
    );
    assert.equal(probe.code, 0, probe.out);
    const counts = JSON.parse(probe.out.trim().split('\n').at(-1)!) as { scripts: number; migrations: number };
    assert.ok(counts.scripts > 0, probe.out);
    assert.equal(counts.migrations, readdirSync(join(ROOT, 'src/db/migrations')).filter((f) => f.endsWith('.sql')).length);

    const help = startProcess('dist/cli.js', ['--help'], cleanEnv(), { tsx: false, cwd: work });
    const helpExit = await help.waitForExit(20_000);
    assert.equal(helpExit.code, 0, help.describe());
    assert.match(help.stdout(), /Usage: flowpos-mcp <command>/);
    assert.match(help.stdout(), /\bserve\b/);

    // Commands behind dynamic imports load too: the MCP client of `tools` reports the refused connection (exit 2).
    const unreachable = startProcess('dist/cli.js', ['tools', '--url', `http://127.0.0.1:${await freePort()}/mcp`, '--key', 'fpk_x_y'], cleanEnv(), { tsx: false, cwd: work });
    const unreachableExit = await unreachable.waitForExit(20_000);
    assert.equal(unreachableExit.code, 2, unreachable.describe());
    assert.match(unreachable.stderr(), /connection refused/);

    const dataDir = join(work, '.flowpos');
    // PGlite's start-up is most of this; a busy machine makes it slow, not wrong.
    const served = await serveEmbedded({ dataDir, port: await freePort(), dist: true, cwd: work, startMs: 60_000 });
    try {
      const ready = await fetch(`${served.base}/ready`);
      assert.equal(ready.status, 200, await ready.text());
      const sid = await openSession(served.base, served.key);
      const list = structured(await callTool(served.base, served.key, sid, 'list_businesses'));
      assert.equal(list.businesses.length, 2);
      process.kill(served.proc.pid, 'SIGTERM');
      const exit = await served.proc.waitForExit(10_000);
      assert.deepEqual(exit, { code: 0, signal: null }, served.proc.describe());
    } finally {
      served.proc.kill();
    }
  });
});
