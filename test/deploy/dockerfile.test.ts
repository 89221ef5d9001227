import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { copies, execForm, ignored, parseDockerfile, parseDockerignore, type Stage, words } from './dockerfile-parse.js';
import { ROOT } from '../helpers/serve-process.js';

/**
 * The container image, checked without a Docker engine: the Dockerfile's stages, what each copies (and that it is
 * there and not excluded from the build context), the user it runs as, its port, health check and command.
 */

const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const ignore = parseDockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

const stage = (name: string): Stage => {
  const s = dockerfile.stages.find((x) => x.name === name);
  assert.ok(s, `a stage named ${name}`);
  return s;
};
const runs = (s: Stage) => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
const last = (s: Stage, keyword: string) => s.instructions.filter((i) => i.keyword === keyword).at(-1);

describe('Dockerfile', () => {
  test('two stages on the current Node LTS slim image: build, then runtime (the final one)', () => {
    assert.deepEqual(
      dockerfile.stages.map((s) => [s.name, s.image]),
      [
        ['build', 'node:24-slim'],
        ['runtime', 'node:24-slim'],
      ],
    );
  });

  test('build stage: npm ci from the lock file, then npm run build', () => {
    const build = stage('build');
    const r = runs(build);
    const ci = r.findIndex((c) => /\bnpm ci\b/.test(c));
    const compile = r.findIndex((c) => /\bnpm run build\b/.test(c));
    assert.ok(ci >= 0 && !/--omit=dev/.test(r[ci]!), `npm ci with dev dependencies (the compiler): ${r.join(' | ')}`);
    assert.ok(compile > ci, 'npm run build after npm ci');
    const copied = copies(build).flatMap((c) => c.sources);
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'src']) assert.ok(copied.includes(needed), `the build stage copies ${needed}`);
    // Whatever `npm run build` runs besides tsc must be in the stage too.
    for (const script of pkg.scripts.build!.match(/\bscripts\/[\w./-]+/g) ?? []) {
      assert.ok(copied.some((src) => script === src || script.startsWith(`${src.replace(/\/$/, '')}/`)), `${script} (used by npm run build) is copied`);
    }
    const workdir = last(build, 'WORKDIR')?.args;
    assert.equal(workdir, '/app');
  });

  test('runtime stage: production dependencies only, the compiled dist from the build stage, NODE_ENV=production', () => {
    const runtime = stage('runtime');
    const r = runs(runtime);
    assert.ok(r.some((c) => /\bnpm ci\b.*--omit=dev/.test(c)), `npm ci --omit=dev: ${r.join(' | ')}`);
    assert.ok(!r.some((c) => /npm run build|\btsc\b/.test(c)), 'nothing is compiled at run time');
    const env = runtime.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args);
    assert.ok(env.some((e) => /^NODE_ENV[= ]production$/.test(e)), `ENV NODE_ENV=production: ${env.join(' | ')}`);
    const fromBuild = copies(runtime).filter((c) => c.from === 'build');
    assert.deepEqual(fromBuild.map((c) => [c.sources, c.dest]), [[['/app/dist'], './dist']]);
    assert.ok(!copies(runtime).some((c) => !c.from && c.sources.includes('src')), 'no sources in the runtime image');
    // dist is where tsconfig.json compiles to, so /app/dist is what the build stage's `npm run build` produced.
    const tsconfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: { outDir: string } };
    assert.equal(tsconfig.compilerOptions.outDir, 'dist');
  });

  test('runs as a non-root user, on port 4000, with a health check on /health that needs no curl, and serves', () => {
    const runtime = dockerfile.stages.at(-1)!;
    assert.equal(runtime.name, 'runtime');
    const user = last(runtime, 'USER')?.args;
    assert.ok(user && !/^(root|0)(:.*)?$/.test(user), `USER is not root: ${user}`);
    const userAt = runtime.instructions.findIndex((i) => i.keyword === 'USER');
    assert.ok(runtime.instructions.slice(userAt).every((i) => i.keyword !== 'RUN'), 'nothing runs as root after USER');

    const exposed = runtime.instructions.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => words(i.args));
    assert.deepEqual(exposed, ['4000']);

    const health = last(runtime, 'HEALTHCHECK');
    assert.ok(health, 'HEALTHCHECK');
    const cmdAt = health.args.search(/\bCMD\b/);
    const probe = execForm(health.args.slice(cmdAt + 3).trim());
    assert.ok(probe, `HEALTHCHECK CMD in exec form: ${health.args}`);
    assert.equal(probe[0], 'node', 'node probes the server (slim images have no curl or wget)');
    assert.match(probe.join(' '), /\/health\b/);
    assert.match(probe.join(' '), /process\.env\.PORT/, 'the probe follows PORT');
    assert.match(health.args, /--interval=\d+s/);

    const cmd = last(runtime, 'CMD');
    assert.deepEqual(execForm(cmd!.args), ['node', 'dist/cli.js', 'serve'], 'exec form, so node is PID 1 and gets SIGTERM itself');
    assert.equal(last(runtime, 'ENTRYPOINT'), undefined);
  });

  test('every COPY source exists in the repository and is not excluded from the build context; --from names an earlier stage', () => {
    for (const s of dockerfile.stages) {
      for (const c of copies(s)) {
        if (c.from) {
          const from = dockerfile.stages.find((x) => x.name === c.from);
          assert.ok(from && from.index < s.index, `COPY --from=${c.from} (line ${c.line}) names an earlier stage`);
          continue;
        }
        for (const src of c.sources) {
          assert.ok(existsSync(join(ROOT, src)), `COPY ${src} (line ${c.line}): missing from the repository`);
          assert.ok(!ignored(src, ignore), `COPY ${src} (line ${c.line}) is excluded by .dockerignore`);
        }
      }
    }
  });
});

describe('.dockerignore', () => {
  test('keeps local state, dependencies, build output and git history out of the context', () => {
    for (const path of ['node_modules', 'node_modules/fastify', '.flowpos', '.flowpos/demo-api-key', '.git', 'dist', 'test', 'bench']) {
      assert.ok(ignored(path, ignore), `${path} is excluded`);
    }
    for (const path of ['src/cli.ts', 'package.json', 'package-lock.json', 'tsconfig.json', 'scripts/copy-assets.mjs']) {
      assert.ok(!ignored(path, ignore), `${path} is in the context`);
    }
  });
});
