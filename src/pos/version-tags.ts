/**
 * The last version (VersionStore) this instance has seen for each business or user, and what it
 * means for a cache entry: one read under another version is stale. Bounded: a cleared map only makes every
 * entry stale once.
 */
export class VersionTags {
  readonly #seen = new Map<string, string>();

  /** Notes a version read from the store; returns whether it changed (entries of `id` are then stale). */
  observe(id: string, version: string): boolean {
    if (this.#seen.get(id) === version) return false;
    if (this.#seen.size >= 100_000) this.#seen.clear();
    this.#seen.set(id, version);
    return true;
  }

  /** The version an entry of `id` read now is tagged with. */
  current(id: string): string | undefined {
    return this.#seen.get(id);
  }

  /** Forgets `id`: nothing cached for it is used until a version is read again. */
  forget(id: string): void {
    this.#seen.delete(id);
  }
}
