// tsc copies only TypeScript; SQL migrations, Lua scripts and the sign-in page's assets are read at run time next to
// the compiled code.
import { cpSync } from 'node:fs';
for (const dir of ['db/migrations', 'state/lua', 'http/assets']) {
  cpSync(new URL(`../src/${dir}`, import.meta.url), new URL(`../dist/${dir}`, import.meta.url), { recursive: true });
}
