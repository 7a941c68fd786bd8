/**
 * Which registration entries a process gets, in which order, and which bundles it may see
 * (SPIFFE.md §6): an entry matches when all its selectors are among the process's attested
 * selectors; identities are sorted by entry ID (the first is the default); of entries sharing
 * a non-empty hint only the oldest (then lowest ID) is kept; federated bundles are those named
 * in a matching entry's `federates_with`.
 */
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { formatSelector, selectorsMatch } from '../../certs/selector/selector.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import type { AuthorizedEntry } from './authorized-state.js'

/** Entries by the first of their selectors (`type:value`), for {@link matchEntries}. */
export type EntryIndex = ReadonlyMap<string, readonly AuthorizedEntry[]>

/**
 * Indexes entries once per state, so that matching a process looks only at the entries that
 * may match it instead of every entry (an entry never matches without its first selector).
 *
 * @example
 * const index = indexEntries(state.entries)
 */
export function indexEntries(entries: readonly AuthorizedEntry[]): EntryIndex {
  const index = new Map<string, AuthorizedEntry[]>()
  for (const e of entries) {
    const first = e.selectors[0]
    if (first === undefined) continue // matches nothing
    const key = formatSelector(first)
    const list = index.get(key)
    if (list === undefined) index.set(key, [e])
    else list.push(e)
  }
  return index
}

/**
 * The entries whose selectors all appear in `attested`, sorted by entry ID, with duplicate
 * hints removed.
 *
 * @example
 * matchEntries(indexEntries(state.entries), selectorSet(process.selectors)).map((e) => e.spiffeId)
 */
export function matchEntries(index: EntryIndex, attested: ReadonlySet<string>): AuthorizedEntry[] {
  const matched: AuthorizedEntry[] = []
  for (const selector of attested) {
    for (const e of index.get(selector) ?? []) if (selectorsMatch(e.selectors, attested)) matched.push(e)
  }
  return dropDuplicateHints(matched.sort(byId))
}

function byId(a: AuthorizedEntry, b: AuthorizedEntry): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

/** Keeps, per non-empty hint, the entry created first (lowest ID on a tie); order is preserved. */
function dropDuplicateHints(sorted: AuthorizedEntry[]): AuthorizedEntry[] {
  const winner = new Map<string, AuthorizedEntry>()
  for (const e of sorted) {
    if (e.hint === '') continue
    const w = winner.get(e.hint)
    if (w === undefined || e.createdAt.getTime() < w.createdAt.getTime()) winner.set(e.hint, e)
  }
  return sorted.filter((e) => e.hint === '' || winner.get(e.hint) === e)
}

/**
 * The federated bundles named by the entries' `federates_with` (as `spiffe://td` or `td`),
 * by trust-domain name. Names without a bundle, malformed names and our own trust domain
 * are skipped.
 */
export function federatedBundlesFor(
  entries: readonly AuthorizedEntry[],
  available: ReadonlyMap<string, TrustBundle>,
  own: TrustDomain,
): Map<string, TrustBundle> {
  const out = new Map<string, TrustBundle>()
  for (const e of entries) {
    for (const ref of e.federatesWith) {
      const name = trustDomainName(ref)
      if (name === undefined || name === own.name || out.has(name)) continue
      const bundle = available.get(name)
      if (bundle !== undefined) out.set(name, bundle)
    }
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

function trustDomainName(ref: string): string | undefined {
  try {
    return TrustDomain.parse(ref).name
  } catch {
    return undefined
  }
}

/** Which costly selectors some entry needs (passed to the workload attestor). */
export interface SelectorWants {
  readonly sha256: boolean
  readonly scriptSha256: boolean
}

/**
 * Whether any entry selects on `unix:sha256` or `proc:script_sha256`.
 *
 * @example
 * selectorWants(state.entries) // { sha256: false, scriptSha256: true }
 */
export function selectorWants(entries: readonly AuthorizedEntry[]): SelectorWants {
  let sha256 = false
  let scriptSha256 = false
  for (const e of entries) {
    for (const s of e.selectors) {
      if (s.type === 'unix' && s.value.startsWith('sha256:')) sha256 = true
      if (s.type === 'proc' && s.value.startsWith('script_sha256:')) scriptSha256 = true
    }
  }
  return { sha256, scriptSha256 }
}
