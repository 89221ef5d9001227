import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

/**
 * `flowpos-mcp tools` and `flowpos-mcp call`: the server seen from a person's terminal, through the official MCP
 * client, exactly as an agent sees it. Exit codes: 0 done, 1 the tool (or the server, about this call) said no,
 * 2 usage or connection problems (nothing was called).
 */

export const CLIENT_USAGE = `  tools [--url URL] [--key KEY] [--json]
                                         list the server's tools and their arguments
  call <tool> [--args JSON] [--url URL] [--key KEY] [--json]
                                         call one tool and print its text (--json: its structured result)
                                         --url defaults to http://localhost:$PORT/mcp, --key to $FLOWPOS_API_KEY
                                         or the demo key in $FLOWPOS_DATA_DIR`;

class ClientUsageError extends Error {}
/** The server could not be reached, or refused us before any tool ran. */
class ConnectionProblem extends Error {}

interface Target {
  url: URL;
  key: string;
}

interface JsonSchemaish {
  type?: string | string[];
  description?: string;
  enum?: unknown[];
  items?: JsonSchemaish;
  properties?: Record<string, JsonSchemaish>;
  required?: string[];
}

export interface ClientIo {
  env: NodeJS.ProcessEnv;
  out: (text: string) => void;
  err: (text: string) => void;
}

const processIo: ClientIo = {
  env: process.env,
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

export async function clientCommand(command: 'tools' | 'call', argv: string[], io: ClientIo = processIo): Promise<number> {
  const { env, out, err } = io;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' },
        key: { type: 'string' },
        args: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      allowPositionals: true,
      strict: true,
    });
    if (command === 'tools' && (positionals.length > 0 || values.args !== undefined)) throw new ClientUsageError('tools takes no tool name and no --args.');
    if (command === 'call' && positionals.length !== 1) throw new ClientUsageError('call needs exactly one tool name, e.g. `flowpos-mcp call list_businesses`.');
    const toolArgs = parseToolArgs(values.args);
    const target = await resolveTarget(values.url, values.key, env);

    return await withClient(target, async (client) => {
      if (command === 'tools') {
        const tools = await listAllTools(client);
        if (values.json) out(`${JSON.stringify(tools, null, 2)}\n`);
        else out(formatTools(tools, target.url));
        return 0;
      }
      const name = positionals[0]!;
      let result: Awaited<ReturnType<Client['callTool']>>;
      try {
        result = await client.callTool({ name, arguments: toolArgs });
      } catch (e) {
        if (isTransportFailure(e)) throw e;
        // A JSON-RPC error about this call: an unknown tool, arguments that do not fit its schema.
        err(`${name}: ${e instanceof Error ? e.message : String(e)}\n`);
        return 1;
      }
      const text = textOf(result.content);
      if (result.isError) {
        err(`${name} failed: ${text || JSON.stringify(result.structuredContent ?? {})}\n`);
        if (values.json && result.structuredContent) out(`${JSON.stringify(result.structuredContent, null, 2)}\n`);
        return 1;
      }
      if (values.json) out(`${JSON.stringify(result.structuredContent ?? null, null, 2)}\n`);
      else out(text ? `${text}\n` : '(no text content; try --json)\n');
      return 0;
    });
  } catch (e) {
    if (e instanceof ClientUsageError || isParseArgsError(e)) {
      err(`flowpos-mcp ${command}: ${(e as Error).message}\nUsage:\n${CLIENT_USAGE}\n`);
      return 2;
    }
    if (e instanceof ConnectionProblem) {
      err(`flowpos-mcp ${command}: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

function parseToolArgs(raw: string | undefined): Record<string, unknown> {
  if (raw === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new ClientUsageError(`--args must be a JSON object, e.g. --args '{"sku":"COF-LATTE-12","quantity":2}' (${(e as Error).message}).`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ClientUsageError('--args must be a JSON object (the tool\'s named arguments).');
  return parsed as Record<string, unknown>;
}

async function resolveTarget(url: string | undefined, key: string | undefined, env: NodeJS.ProcessEnv): Promise<Target> {
  const endpoint = url ?? `http://localhost:${env.PORT || '4000'}/mcp`;
  let parsed: URL;
  try {
    parsed = new URL(endpoint);
  } catch {
    throw new ClientUsageError(`--url is not a URL: "${endpoint}".`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ClientUsageError(`--url must be http:// or https://; got "${endpoint}".`);
  if (key) return { url: parsed, key };
  if (env.FLOWPOS_API_KEY) return { url: parsed, key: env.FLOWPOS_API_KEY };
  const dataDir = env.FLOWPOS_DATA_DIR || './.flowpos';
  const demo = await readFile(join(dataDir, 'demo-api-key'), 'utf8').then((s) => s.trim(), () => '');
  if (demo) return { url: parsed, key: demo };
  throw new ClientUsageError(
    `no API key: pass --key, set FLOWPOS_API_KEY, or run \`flowpos-mcp serve\` once (it writes a demo key to ${join(dataDir, 'demo-api-key')}).`,
  );
}

async function withClient<T>(target: Target, fn: (client: Client) => Promise<T>): Promise<T> {
  const transport = new StreamableHTTPClientTransport(target.url, {
    requestInit: { headers: { Authorization: `Bearer ${target.key}` } },
  });
  const client = new Client({ name: 'flowpos-mcp-cli', version: '1.0.0' });
  try {
    await client.connect(transport);
  } catch (e) {
    await client.close().catch(() => {});
    throw connectionProblem(e, target.url);
  }
  try {
    return await fn(client);
  } catch (e) {
    if (isTransportFailure(e)) throw connectionProblem(e, target.url);
    throw e;
  } finally {
    // A person's one-off call should not leave a session behind until it expires.
    await transport.terminateSession().catch(() => {});
    await client.close().catch(() => {});
  }
}

async function listAllTools(client: Client) {
  const tools: ListedTool[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}

type ListedTool = Awaited<ReturnType<Client['listTools']>>['tools'][number];

function formatTools(tools: ListedTool[], url: URL): string {
  const lines = [`${tools.length} tool${tools.length === 1 ? '' : 's'} at ${url.href}`, ''];
  for (const t of [...tools].sort((a, b) => a.name.localeCompare(b.name))) {
    lines.push(`${t.name}${t.annotations?.readOnlyHint ? '  (read-only)' : ''}`);
    const summary = (t.description ?? t.title ?? '').split('\n')[0]?.trim();
    if (summary) lines.push(`    ${summary}`);
    const input = t.inputSchema as JsonSchemaish;
    const props = Object.entries(input.properties ?? {});
    const required = new Set(input.required ?? []);
    for (const [name, schema] of props) {
      const flag = required.has(name) ? 'required' : 'optional';
      lines.push(`    --args ${name}: ${typeName(schema)}, ${flag}${schema.description ? ` — ${schema.description.split('\n')[0]}` : ''}`);
    }
    lines.push('');
  }
  return `${lines.join('\n')}`;
}

function typeName(schema: JsonSchemaish): string {
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  const type = Array.isArray(schema.type) ? schema.type.join(' | ') : (schema.type ?? 'any');
  return type === 'array' && schema.items ? `${typeName(schema.items)}[]` : type;
}

function textOf(content: unknown): string {
  if (!Array.isArray(content)) return '';
  return content
    .filter((c): c is { type: 'text'; text: string } => typeof c === 'object' && c !== null && (c as { type?: unknown }).type === 'text')
    .map((c) => c.text)
    .join('\n');
}

function httpStatus(e: unknown): number | undefined {
  const status = (e as { data?: { status?: unknown } } | undefined)?.data?.status;
  return typeof status === 'number' ? status : undefined;
}

function networkCode(e: unknown): string | undefined {
  let cur = e as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; cur && depth < 6; depth++) {
    if (typeof cur.code === 'string' && /^E[A-Z]+$|^UND_ERR_/.test(cur.code)) return cur.code;
    cur = cur.cause as typeof cur;
  }
  return undefined;
}

/** Failures of the HTTP exchange itself (network, HTTP status), as opposed to a JSON-RPC answer about the call. */
function isTransportFailure(e: unknown): boolean {
  return httpStatus(e) !== undefined || networkCode(e) !== undefined || (e instanceof TypeError && /fetch failed/i.test(e.message));
}

function connectionProblem(e: unknown, url: URL): ConnectionProblem {
  const status = httpStatus(e);
  const message = e instanceof Error ? e.message : String(e);
  if (status === 401) return new ConnectionProblem(`${url.href} refused the API key (HTTP 401): check --key or FLOWPOS_API_KEY.`);
  if (status === 403) return new ConnectionProblem(`${url.href} answered HTTP 403: ${message}`);
  if (status !== undefined) return new ConnectionProblem(`${url.href} answered HTTP ${status}: ${message}`);
  const code = networkCode(e);
  if (code === 'ECONNREFUSED') return new ConnectionProblem(`cannot connect to ${url.href}: connection refused. Is the server running (\`flowpos-mcp serve\`)?`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new ConnectionProblem(`cannot connect to ${url.href}: unknown host ${url.hostname}.`);
  if (code) return new ConnectionProblem(`cannot connect to ${url.href}: ${code}.`);
  return new ConnectionProblem(`cannot talk to ${url.href}: ${message}`);
}

function isParseArgsError(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}
