/**
 * An OAuth client as the authorization server sees it: registered by RFC 7591 Dynamic Client Registration (kept in
 * PostgreSQL) or described by a Client ID Metadata Document (its `client_id` is the https URL of that document,
 * fetched and cached). Only public clients exist here (`token_endpoint_auth_method: none`): MCP clients run on
 * people's machines and cannot keep a secret, so PKCE binds the code to the client instead.
 */
export interface OAuthClient {
  clientId: string;
  /** Shown on the consent page; absent → the client id (or the metadata document's host) is shown. */
  clientName?: string;
  clientUri?: string;
  logoUri?: string;
  /** Exact-match list: a redirect_uri not in it is refused without redirecting. */
  redirectUris: string[];
  /** Subset of authorization_code and refresh_token. */
  grantTypes: string[];
  /** The scopes the client asked for at registration, if it said; a request may only narrow them. */
  scope?: string;
  kind: 'registered' | 'metadata-document';
}

/** RFC 7591 §3.2.1 response body. */
export interface ClientRegistrationResponse {
  client_id: string;
  client_id_issued_at: number;
  client_name?: string;
  client_uri?: string;
  logo_uri?: string;
  redirect_uris: string[];
  grant_types: string[];
  response_types: string[];
  token_endpoint_auth_method: 'none';
  scope?: string;
  software_id?: string;
  software_version?: string;
}

export interface ClientRegistry {
  /**
   * The client named by `clientId`: a registered one, or — when `clientId` is an https URL — the client its metadata
   * document describes. Throws OAuthEndpointError('invalid_client', <why, precisely>) when there is none or the
   * document cannot be used, and temporarily-unavailable errors when PostgreSQL is down.
   */
  resolve(clientId: string): Promise<OAuthClient>;
  /** RFC 7591: validates the metadata (OAuthEndpointError invalid_client_metadata / invalid_redirect_uri) and stores it. */
  register(metadata: unknown): Promise<ClientRegistrationResponse>;
}
