/**
 * The last version counter (VersionStore) this instance has seen for each business or user, and what it
 * means for a cache entry: one read under an older counter is stale. Bounded: a cleared map only makes every
 * entry stale once.
 */
export class VersionTags {
  readonly #seen = new Map<string, number>();

  /** Notes a counter read from the store; returns whether it moved (entries of `id` are then stale). */
  observe(id: string, version: number): boolean {
    if (this.#seen.get(id) === version) return false;
    if (this.#seen.size >= 100_000) this.#seen.clear();
    this.#seen.set(id, version);
    return true;
  }

  /** The counter an entry of `id` read now is tagged with. */
  current(id: string): number | undefined {
    return this.#seen.get(id);
  }

  /** Forgets `id`: nothing cached for it is used until a counter is read again. */
  forget(id: string): void {
    this.#seen.delete(id);
  }
}
