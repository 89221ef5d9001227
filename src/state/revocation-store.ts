/**
 * A deny-list of access tokens by `jti`, shared by every instance: a token revoked on one instance is refused by
 * all of them from the next request on. An entry lives exactly as long as the token it denies would have.
 */
export interface RevocationStore {
  /** Denies `tokenId` until `expiresAt` (epoch ms). A token already expired needs no entry: nothing is written. */
  revoke(tokenId: string, expiresAt: number): Promise<void>;
  /** One round trip; true while the entry lives. */
  isRevoked(tokenId: string): Promise<boolean>;
}
