// tsc copies only TypeScript; SQL migrations and Lua scripts are read at run time next to the compiled code.
import { cpSync } from 'node:fs';
for (const dir of ['db/migrations', 'state/lua']) {
  cpSync(new URL(`../src/${dir}`, import.meta.url), new URL(`../dist/${dir}`, import.meta.url), { recursive: true });
}
