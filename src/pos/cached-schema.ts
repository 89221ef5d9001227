import type { StandardSchemaWithJSON } from '@modelcontextprotocol/server';

type JsonSchemaOptions = { target?: string };

/**
 * The same schema, with its JSON Schema computed once instead of on every server that registers it.
 * The SDK converts a tool's schemas per McpServer instance; with a fresh server per request that conversion
 * was the largest single cost of a tool call. Validation is untouched (it is the schema's own).
 */
export function withCachedJsonSchema<T extends StandardSchemaWithJSON>(schema: T): T {
  const std = schema['~standard'];
  const json = std.jsonSchema;
  if (!json) return schema;
  const cache = new Map<string, Record<string, unknown>>();
  const memo = (io: 'input' | 'output') => (options: JsonSchemaOptions) => {
    const key = `${io}:${options?.target ?? ''}`;
    let value = cache.get(key);
    if (!value) {
      value = deepFreeze(json[io](options as Parameters<typeof json.input>[0]) as Record<string, unknown>);
      cache.set(key, value);
    }
    return value;
  };
  const cached = { ...std, jsonSchema: { input: memo('input'), output: memo('output') } };
  // Everything else (zod's own methods and internals, which the SDK also reads) stays on the original.
  return new Proxy(schema, { get: (target, prop, receiver) => (prop === '~standard' ? cached : Reflect.get(target, prop, receiver)) });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
