import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/cluster/ports.js';

/**
 * The Firebase Auth Emulator (devDependency firebase-tools), started as `firebase emulators:start --only auth
 * --project <demo-…>` from a firebase.json generated in a temp dir with free ports for the emulator, its hub and its
 * logging endpoint. A `demo-` project needs no Google account and the emulator runs offline. Its ID tokens are real
 * emulator tokens: unsigned (`alg: none`), with the claims Firebase puts in production tokens.
 */
export interface AuthEmulator {
  /** host:port, the value of FIREBASE_AUTH_EMULATOR_HOST. */
  host: string;
  projectId: string;
  /** Signs a new user up (accounts:signUp) and returns its uid and ID token. */
  signUp(email?: string, password?: string): Promise<{ uid: string; idToken: string }>;
  stop(): Promise<void>;
}

/**
 * Start-up is slow: the Auth Emulator compiles the JSON Schemas of the whole Identity Toolkit API with Ajv (~30 s of
 * CPU on a loaded two-core machine, measured with --cpu-prof); nothing in firebase.json turns that off. The wait
 * allows for it sharing the cores with a concurrent test file at full load (the bench, the cluster tests).
 */
const START_TIMEOUT_MS = 180_000;

function firebaseCli(): string {
  const require = createRequire(import.meta.url);
  try {
    return require.resolve('firebase-tools/lib/bin/firebase.js');
  } catch (err) {
    throw new Error('The Firebase Auth Emulator tests need the firebase-tools devDependency: run `npm install`.', { cause: err });
  }
}

/** `port` lets a caller configure FIREBASE_AUTH_EMULATOR_HOST before the (slow) start has finished. */
export async function startAuthEmulator(opts: { projectId?: string; port?: number } = {}): Promise<AuthEmulator> {
  const projectId = opts.projectId ?? 'demo-flowpos';
  if (!projectId.startsWith('demo-')) throw new Error('use a demo- project: it needs no credentials and never reaches Google');
  const cli = firebaseCli();
  const [port, hubPort, loggingPort] = [opts.port ?? (await freePort()), await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'flowpos-auth-emulator-'));
  writeFileSync(
    join(dir, 'firebase.json'),
    JSON.stringify({
      emulators: {
        auth: { host: '127.0.0.1', port },
        hub: { host: '127.0.0.1', port: hubPort },
        logging: { host: '127.0.0.1', port: loggingPort },
        ui: { enabled: false },
        singleProjectMode: true,
      },
    }),
  );
  const child: ChildProcess = spawn(process.execPath, [cli, 'emulators:start', '--only', 'auth', '--project', projectId], {
    cwd: dir,
    // CI: no MOTD fetch, no prompts; HOME in the temp dir keeps its config store out of the user's.
    // TMPDIR: the hub writes a locator file per project there; two runs must not share it.
    env: { ...process.env, CI: 'true', NO_UPDATE_NOTIFIER: '1', HOME: dir, XDG_CONFIG_HOME: dir, TMPDIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: false,
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`the Auth Emulator exited at start-up:\n${output.trim()}`);
    }
    const ready = await fetch(`${base}/`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.status < 500,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the Auth Emulator did not answer within ${START_TIMEOUT_MS / 1000} s:\n${output.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  let n = 0;
  return {
    host: `127.0.0.1:${port}`,
    projectId,
    async signUp(email = `user-${Date.now()}-${n++}@example.test`, password = 'correct-horse-battery') {
      const res = await fetch(`${base}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=any`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password, returnSecureToken: true }),
      });
      const body = (await res.json()) as { localId?: string; idToken?: string; error?: unknown };
      if (!res.ok || !body.idToken || !body.localId) throw new Error(`signUp failed: ${res.status} ${JSON.stringify(body)}`);
      return { uid: body.localId, idToken: body.idToken };
    },
    stop,
  };
}
