import { pino, stdTimeFunctions, type DestinationStream, type Level, type Logger, type LoggerOptions } from 'pino';

/**
 * The process logger: one JSON object per line in the shape Google Cloud Logging reads from stdout
 * (`severity`, `message`, an RFC 3339 `time`), with secrets removed twice over:
 * - `redact` blanks the fields known to hold credentials (Authorization and Cookie headers, tokens, passwords);
 * - every finished line passes through `scrubSecrets`, which masks credential-shaped text wherever it ended up
 *   (an error message or stack quoting a key, a URL with a password, a `Bearer` value inside a string).
 */

/** pino level → Cloud Logging LogSeverity. */
const SEVERITY: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

const CENSOR = '[redacted]';

/** Fields that hold a credential wherever they appear (top level and one level down: `req.headers` and the like). */
const SECRET_FIELDS = ['authorization', 'cookie', 'set-cookie', 'x-api-key', 'apiKey', 'token', 'accessToken', 'refreshToken', 'password', 'secret'];
const field = (f: string) => (/^\w+$/.test(f) ? `.${f}` : `["${f}"]`);
export const REDACT_PATHS = [
  ...SECRET_FIELDS.filter((f) => /^\w+$/.test(f)),
  ...SECRET_FIELDS.map((f) => `*${field(f)}`),
  ...SECRET_FIELDS.map((f) => `*.headers${field(f)}`),
  ...SECRET_FIELDS.map((f) => `*.*.headers${field(f)}`),
];

const SCRUBBERS: [RegExp, string][] = [
  // API keys: fpk_<keyId>_<secret>; the key id is not secret and helps to find the key, the rest goes.
  [/fpk_([a-z2-7]{12}_)?[A-Za-z0-9_-]+/g, `fpk_$1${CENSOR}`],
  // Whatever follows the Bearer or Basic scheme.
  [/\b(Bearer|Basic)(\s+|%20)[^\s",;\\]+/gi, `$1$2${CENSOR}`],
  // JWTs (access tokens, ID tokens) outside a Bearer header.
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, CENSOR],
  // Passwords in URLs: scheme://user:password@host.
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s"/@:]*:)[^\s"/@]+@/gi, `$1${CENSOR}@`],
  // Credentials in query strings.
  [/([?&](?:password|passwd|pwd|token|access_token|refresh_token|id_token|api_key|apikey|key|secret|client_secret|code)=)[^&\s"#]+/gi, `$1${CENSOR}`],
];

/** Masks credential-shaped substrings (API keys, bearer values, JWTs, URL passwords, secret query parameters). */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SCRUBBERS) out = out.replace(pattern, replacement);
  return out;
}

export interface CreateLoggerOptions {
  level: Level | 'silent';
  /** Where lines go; stdout by default. Tests pass a stream that collects them. */
  stream?: DestinationStream;
}

export function createLogger(opts: CreateLoggerOptions): Logger {
  const options: LoggerOptions = {
    level: opts.level,
    messageKey: 'message',
    timestamp: stdTimeFunctions.isoTime,
    formatters: {
      level: (label, number) => ({ severity: SEVERITY[label] ?? 'DEFAULT', level: number }),
    },
    redact: { paths: REDACT_PATHS, censor: CENSOR },
    hooks: { streamWrite: scrubSecrets },
  };
  return opts.stream ? pino(options, opts.stream) : pino(options);
}
