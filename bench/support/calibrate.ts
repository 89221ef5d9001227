import { spawnSync } from 'node:child_process';
import { pinnedCommand } from './pin.js';

/**
 * How fast the server core is right now: a fixed JSON workload (parse + stringify of a tool-call-sized message)
 * run for 300 ms in a fresh process on `cpu`, in thousands of round trips per second. Recorded at the start and
 * end of a run so a reader can tell a slow, shared machine from a slow server.
 */
const WORKLOAD = `
const msg = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'Added 1 × COF-LATTE-12.' }],
  structuredContent: { cart_id: 'c1', business_id: 'biz', currency: 'USD', lines: [{ sku: 'COF-LATTE-12', name: 'Caffè Latte 12 oz',
  quantity: 3, unit_price_minor: 450, line_total_minor: 1350, available_stock: 120 }], item_count: 3, subtotal_minor: 1350, version: 7, warnings: [] } } });
let n = 0; const end = performance.now() + 300;
while (performance.now() < end) { for (let i = 0; i < 100; i++) JSON.stringify(JSON.parse(msg)); n += 100; }
process.stdout.write(String(Math.round(n / 300)));
`;

export function calibrate(cpu: string | undefined): number | null {
  const { command, args } = pinnedCommand(cpu, process.execPath, ['-e', WORKLOAD]);
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 });
  const n = Number(r.stdout);
  return r.status === 0 && Number.isFinite(n) ? n : null;
}
