import { deployCommand } from '../../src/cli/deploy/command.js';
import { shellWords } from './env-names.js';

/** `flowpos-mcp deploy …` in this process, its output captured and its printed commands split back into words. */

/** Environment without anything the commands read, so only the arguments given here count. */
export function bareEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'LANG', 'TMPDIR'];
  return { ...Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!])), ...extra };
}

export async function runDeploy(target: 'cloud-run' | 'secrets', args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await deployCommand([target, ...args], { env: bareEnv(env), out: (l) => out.push(l), err: (l) => err.push(l) });
  const stdout = out.map((l) => `${l}\n`).join('');
  const commands = stdout
    .split('\n')
    .filter((l) => l.startsWith('+ '))
    .map((l) => shellWords(l.slice(2)));
  return { code, stdout, stderr: err.join('\n'), commands };
}

/** The value of --name=value (or null if absent; '' for a bare --name). */
export function flag(cmd: string[], name: string): string | null {
  for (const w of cmd) {
    if (w === name) return '';
    if (w.startsWith(`${name}=`)) return w.slice(name.length + 1);
  }
  return null;
}

export const SAMPLE = [
  '--dry-run',
  '--project', 'demo-proj',
  '--region', 'europe-west1',
  '--service-account', 'flowpos-mcp@demo-proj.iam.gserviceaccount.com',
  '--public-url', 'https://flowpos-mcp-123456789012.europe-west1.run.app',
  '--vpc-connector', 'flowpos-connector',
  '--redis-host', '10.20.0.3',
  '--cloudsql-instance', 'demo-proj:europe-west1:flowpos-pg',
  '--min-instances', '2',
  '--max-instances', '20',
  '--memory', '1Gi',
  '--cpu', '2',
  '--concurrency', '60',
  '--tag', 'v1',
];

