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

type LevelName = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type LogFn = (...args: unknown[]) => void;

/**
 * A request's logger that becomes a real pino child (with the request id bound) only when it first writes a line.
 * Fastify makes a child per request; pino builds each one eagerly, running the redaction over its bindings and, as
 * Fastify passes an (empty) options object, rebuilding its formatters. Most requests write nothing at `warn`, and
 * at `info` one line; the line is the same as the eager child's.
 */
export class LazyChildLogger {
  readonly #parent: Logger;
  readonly #bindings: Record<string, unknown>;
  #real: Logger | undefined;

  constructor(parent: Logger, bindings: Record<string, unknown>) {
    this.#parent = parent;
    this.#bindings = bindings;
  }

  #child(): Logger {
    this.#real ??= this.#parent.child(this.#bindings);
    return this.#real;
  }

  #write(level: LevelName, args: unknown[]): void {
    const current = this.#real ?? this.#parent;
    if (!current.isLevelEnabled(level)) return;
    (this.#child()[level] as LogFn)(...args);
  }

  get level(): string {
    return (this.#real ?? this.#parent).level;
  }

  set level(level: string) {
    this.#child().level = level;
  }

  isLevelEnabled(level: string): boolean {
    return (this.#real ?? this.#parent).isLevelEnabled(level);
  }

  bindings(): Record<string, unknown> {
    return this.#child().bindings();
  }

  child(bindings: Record<string, unknown>, options?: Record<string, unknown>): Logger {
    return this.#child().child(bindings, options);
  }

  fatal(...args: unknown[]): void {
    this.#write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.#write('error', args);
  }
  warn(...args: unknown[]): void {
    this.#write('warn', args);
  }
  info(...args: unknown[]): void {
    this.#write('info', args);
  }
  debug(...args: unknown[]): void {
    this.#write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.#write('trace', args);
  }
  silent(): void {}
}

/**
 * Fastify's childLoggerFactory: a LazyChildLogger, unless the route asks for options of its own (a log level),
 * which get an ordinary child.
 */
export function lazyChildLoggerFactory(logger: Logger, bindings: Record<string, unknown>, options: Record<string, unknown>): Logger {
  if (options && Object.keys(options).length > 0) return logger.child(bindings, options);
  return new LazyChildLogger(logger, bindings) as unknown as Logger;
}
