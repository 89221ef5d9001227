/** Per-user choices that outlive sessions: new sessions and stateless requests start from them. */
export interface PreferenceStore {
  getActiveBusiness(userId: string): Promise<string | null>;
  setActiveBusiness(userId: string, businessId: string): Promise<void>;
}
