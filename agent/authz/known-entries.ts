/**
 * The registration entries this agent knows (from its last sync), by SPIFFE ID: what Authorize
 * tells the policy about a principal beyond its SPIFFE ID (entry id, selectors, and the
 * operator metadata owner/purpose/risk when the server sends it).
 */
import type { AuthorizedEntry } from '../cache/authorized-state.js'

/** An entry as Authorize reads it (operator metadata when the entry carries it). */
export type KnownEntry = AuthorizedEntry & {
  readonly owner?: string
  readonly purpose?: string
  readonly risk?: string
}

/** The latest entries by SPIFFE ID (the oldest entry wins when several share one). */
export class KnownEntries {
  #bySpiffeId = new Map<string, KnownEntry>()
  #source: readonly AuthorizedEntry[] | undefined

  /** Replaces what is known (cheap when the sync returned the same array). */
  update(entries: readonly AuthorizedEntry[]): void {
    if (entries === this.#source) return
    this.#source = entries
    const map = new Map<string, KnownEntry>()
    for (const e of entries) if (!map.has(e.spiffeId)) map.set(e.spiffeId, e)
    this.#bySpiffeId = map
  }

  /** The entry for this SPIFFE ID, if this agent serves it. */
  get(spiffeId: string): KnownEntry | undefined {
    return this.#bySpiffeId.get(spiffeId)
  }
}
