/** Who is calling. Built by the auth gate from an API key or an access token; sessions never stand in for it. */
export type Scope = 'pos:read' | 'pos:write';

export const ALL_SCOPES: readonly Scope[] = ['pos:read', 'pos:write'];

export interface Principal {
  /** The user id (`users.id`); every tenant check is made against it. */
  uid: string;
  scopes: readonly Scope[];
  /** How the caller proved itself; `credentialId` is the API key id or the token's jti. */
  method: 'api_key' | 'access_token';
  credentialId: string;
  /** Epoch ms when the credential stops being valid, if it expires. */
  expiresAt?: number;
  /** Access tokens: the RFC 8707 resource (MCP URL) the token was issued for; scope challenges point at its metadata. */
  resource?: string;
}

export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.includes(scope);
}
