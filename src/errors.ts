/**
 * The one catalog of errors a caller can see. Codes are stable: clients and dashboards may key on them.
 * HTTP-level errors carry a JSON-RPC body too, because MCP clients read the body, not the status text.
 */
export const JSONRPC = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  /** Transport-level refusals (the SDK and the spec's examples use -32000 for these). */
  SERVER_ERROR: -32000,
  SESSION_NOT_FOUND: -32001,
  UNAVAILABLE: -32002,
} as const;

interface CatalogEntry {
  status: number;
  rpc: number;
  message: string;
}

export const ERRORS = {
  parse_error: { status: 400, rpc: JSONRPC.PARSE_ERROR, message: 'Parse error: the request body is not valid JSON.' },
  invalid_request: { status: 400, rpc: JSONRPC.INVALID_REQUEST, message: 'Invalid Request: the body is not a JSON-RPC 2.0 message.' },
  invalid_initialize: {
    status: 400,
    rpc: JSONRPC.INVALID_PARAMS,
    message: 'Invalid params: initialize needs params.protocolVersion (a string), params.capabilities (an object) and params.clientInfo ({ name, version }).',
  },
  batch_not_supported: {
    status: 400,
    rpc: JSONRPC.INVALID_REQUEST,
    message: 'Invalid Request: JSON-RPC batches are not supported (removed in protocol 2025-06-18); send one message per request.',
  },
  session_id_required: {
    status: 400,
    rpc: JSONRPC.SERVER_ERROR,
    message: 'Bad Request: Mcp-Session-Id header is required; send initialize first to open a session.',
  },
  session_id_malformed: {
    status: 400,
    rpc: JSONRPC.SERVER_ERROR,
    message: 'Bad Request: Mcp-Session-Id must be 1-128 visible ASCII characters.',
  },
  session_not_found: {
    status: 404,
    rpc: JSONRPC.SESSION_NOT_FOUND,
    message: 'Session not found: it expired or was ended; send initialize to open a new session.',
  },
  unsupported_protocol_version: {
    status: 400,
    rpc: JSONRPC.SERVER_ERROR,
    message: 'Bad Request: unsupported MCP-Protocol-Version.',
  },
  not_acceptable: {
    status: 406,
    rpc: JSONRPC.SERVER_ERROR,
    message: 'Not Acceptable: the Accept header must list both application/json and text/event-stream.',
  },
  invalid_last_event_id: {
    status: 400,
    rpc: JSONRPC.SERVER_ERROR,
    message: 'Bad Request: Last-Event-ID is not an event id of this server; reconnect without it.',
  },
  not_acceptable_sse: { status: 406, rpc: JSONRPC.SERVER_ERROR, message: 'Not Acceptable: the Accept header must list text/event-stream.' },
  unsupported_media_type: {
    status: 415,
    rpc: JSONRPC.SERVER_ERROR,
    message: 'Unsupported Media Type: Content-Type must be application/json.',
  },
  payload_too_large: { status: 413, rpc: JSONRPC.SERVER_ERROR, message: 'Payload Too Large: the request body exceeds the limit.' },
  forbidden_origin: { status: 403, rpc: JSONRPC.SERVER_ERROR, message: 'Forbidden: Origin not allowed.' },
  forbidden_host: { status: 403, rpc: JSONRPC.SERVER_ERROR, message: 'Forbidden: Host not allowed.' },
  unauthorized: { status: 401, rpc: JSONRPC.SERVER_ERROR, message: 'Unauthorized: send Authorization: Bearer <API key or access token>.' },
  invalid_token: { status: 401, rpc: JSONRPC.SERVER_ERROR, message: 'Unauthorized: the credential is invalid, expired or revoked.' },
  method_not_allowed: { status: 405, rpc: JSONRPC.SERVER_ERROR, message: 'Method Not Allowed: /mcp accepts POST, GET and DELETE.' },
  not_found: { status: 404, rpc: JSONRPC.SERVER_ERROR, message: 'Not Found.' },
  rate_limited: {
    status: 429,
    rpc: JSONRPC.SERVER_ERROR,
    message: 'Too Many Requests: a rate limit of your user was reached; nothing was done.',
  },
  unavailable_redis: {
    status: 503,
    rpc: JSONRPC.UNAVAILABLE,
    message: 'Service Unavailable: the session store (Redis) is unreachable; retry shortly.',
  },
  unavailable_db: {
    status: 503,
    rpc: JSONRPC.UNAVAILABLE,
    message: 'Service Unavailable: the database (PostgreSQL) is unreachable; retry shortly.',
  },
  shutting_down: { status: 503, rpc: JSONRPC.UNAVAILABLE, message: 'Service Unavailable: this instance is shutting down; retry.' },
  internal: { status: 500, rpc: JSONRPC.INTERNAL_ERROR, message: 'Internal error.' },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof ERRORS;

/** An error with a stable code that the HTTP layer turns into a status and a JSON-RPC error body. */
export class AppError extends Error {
  readonly status: number;
  readonly rpc: number;
  constructor(
    readonly code: ErrorCode,
    detail?: string,
    readonly headers: Record<string, string> = {},
    /** Extra machine-readable fields for the JSON-RPC error's `data` (beside `code`). */
    readonly data: Record<string, unknown> = {},
  ) {
    const entry: CatalogEntry = ERRORS[code];
    super(detail ? `${entry.message} ${detail}` : entry.message);
    this.name = 'AppError';
    this.status = entry.status;
    this.rpc = entry.rpc;
  }
}

export function jsonRpcErrorBody(err: AppError, id: unknown = null) {
  return { jsonrpc: '2.0' as const, id: id ?? null, error: { code: err.rpc, message: err.message, data: { ...err.data, code: err.code } } };
}

/**
 * Domain refusals a tool reports to the agent (as an `isError` tool result, so the model can correct itself).
 * The code is in `structuredContent.error.code`.
 */
export const TOOL_ERRORS = {
  no_active_business: 'No active business: call list_businesses, then set_active_business with one of the ids.',
  business_not_found: 'Business not found, or you are not a member of it. Call list_businesses to see your businesses.',
  product_not_found: 'Product not found in the active business. Use search_products to find the SKU.',
  insufficient_stock: 'Not enough stock.',
  cart_required:
    'Which cart? Pass the cart_id that add_item_to_cart returned. Without a session (or from a new one) a call cannot mean the cart an earlier call started.',
  cart_empty: 'The cart is empty; add items with add_item_to_cart before checkout.',
  cart_limit: 'Cart limit reached.',
  not_in_cart: 'That SKU is not in the cart.',
  order_not_found: 'Order not found.',
  insufficient_scope: 'This API key or token lacks the pos:write scope required for this tool.',
  invalid_argument: 'Invalid argument.',
  cart_changed: 'The cart changed while checking out; view_cart and retry checkout.',
  checkout_declined: 'The user did not confirm the order; nothing was ordered.',
  confirmation_timeout: 'No confirmation arrived in time; nothing was ordered. Retry checkout when the user is ready.',
} as const;

export type ToolErrorCode = keyof typeof TOOL_ERRORS;

export class ToolError extends Error {
  constructor(
    readonly code: ToolErrorCode,
    detail?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(detail ?? TOOL_ERRORS[code]);
    this.name = 'ToolError';
  }
}

/**
 * Refusals of the OAuth endpoints (POST /mcp/token, POST /mcp/token/revoke). They leave as RFC 6749 §5.2 JSON,
 * `{"error", "error_description"}`, because OAuth clients read those fields, not JSON-RPC. The key is our stable
 * code; `error` is the registered OAuth code it is sent as.
 */
export const OAUTH_ERRORS = {
  invalid_request: { status: 400, error: 'invalid_request', description: 'The request is missing a required parameter or is malformed.' },
  unsupported_media_type: {
    status: 400,
    error: 'invalid_request',
    description: 'Send the parameters as application/x-www-form-urlencoded (or a JSON object).',
  },
  payload_too_large: { status: 413, error: 'invalid_request', description: 'The request body is too large.' },
  unsupported_grant_type: {
    status: 400,
    error: 'unsupported_grant_type',
    description: 'Supported grant types: authorization_code, refresh_token and urn:ietf:params:oauth:grant-type:token-exchange.',
  },
  invalid_client: { status: 401, error: 'invalid_client', description: 'Unknown client: register it (POST /register) or use a client ID metadata document URL as client_id.' },
  unauthorized_client: { status: 400, error: 'unauthorized_client', description: 'This client is not registered for this grant type.' },
  invalid_client_metadata: { status: 400, error: 'invalid_client_metadata', description: 'The client metadata is invalid.' },
  invalid_redirect_uri: { status: 400, error: 'invalid_redirect_uri', description: 'A redirect URI is invalid: use https, or http on a loopback address.' },
  unsupported_response_type: { status: 400, error: 'unsupported_response_type', description: 'Only response_type=code is supported.' },
  access_denied: { status: 403, error: 'access_denied', description: 'The person declined the authorization.' },
  authorization_disabled: {
    status: 404,
    error: 'invalid_request',
    description: 'Browser sign-in is not enabled on this server: set FIREBASE_PROJECT_ID, MCP_TOKEN_SECRET and FIREBASE_API_KEY.',
  },
  token_exchange_disabled: {
    status: 400,
    error: 'unsupported_grant_type',
    description: 'Token exchange is not enabled on this server (FIREBASE_PROJECT_ID is not set); authenticate with an API key instead.',
  },
  invalid_grant: { status: 400, error: 'invalid_grant', description: 'The subject token is invalid, expired, or not issued for this Firebase project.' },
  invalid_target: { status: 400, error: 'invalid_target', description: "resource (and audience) must be this server's MCP URL." },
  invalid_scope: { status: 400, error: 'invalid_scope', description: 'Unknown scope; this server offers pos:read and pos:write.' },
  unsupported_token_type: {
    status: 400,
    error: 'unsupported_token_type',
    description: 'API keys are not revoked here; run `flowpos-mcp apikey revoke <keyId>`.',
  },
  forbidden: { status: 403, error: 'invalid_request', description: 'Forbidden.' },
  rate_limited: { status: 429, error: 'invalid_request', description: 'Too many requests from this address; retry later (Retry-After).' },
  temporarily_unavailable: { status: 503, error: 'temporarily_unavailable', description: 'A backing service is unavailable; retry shortly.' },
  server_error: { status: 500, error: 'server_error', description: 'Internal error.' },
} as const satisfies Record<string, { status: number; error: string; description: string }>;

export type OAuthErrorCode = keyof typeof OAUTH_ERRORS;

export class OAuthEndpointError extends Error {
  readonly status: number;
  readonly error: string;
  constructor(
    readonly code: OAuthErrorCode,
    /** Replaces the catalog's description: say exactly what was wrong and what to send instead. */
    description?: string,
    readonly headers: Record<string, string> = {},
  ) {
    const entry = OAUTH_ERRORS[code];
    super(description ?? entry.description);
    this.name = 'OAuthEndpointError';
    this.status = entry.status;
    this.error = entry.error;
  }
}

export function oauthErrorBody(err: OAuthEndpointError) {
  return { error: err.error, error_description: err.message };
}
