/**
 * SyncAuthorizedEntries: the complete list of entries the caller may serve, the trust
 * domain's bundle, and the federated bundles those entries name in `federatesWith` (only
 * those, and never a second copy of our own). A digest of the list and the federated
 * bundles comes with it; an agent that sends back the digest of its last sync while it
 * still holds gets `unchanged` and only the bundle.
 */
import { createHash } from 'node:crypto'
import type { SyncAuthorizedEntriesRequest__Output } from '../../../proto/generated/sigil/agent/v1/SyncAuthorizedEntriesRequest.js'
import type { SyncAuthorizedEntriesResponse } from '../../../proto/generated/sigil/agent/v1/SyncAuthorizedEntriesResponse.js'
import type { BundleRecord } from '../../datastore/datastore.js'
import type { AgentApiContext } from './agent-api-deps.js'
import type { AuthenticatedAgent } from './agent-authenticator.js'
import { federatedTrustDomainName, toWireBundle, toWireBundleRecord, toWireEntry } from './agent-wire.js'
import { crlDigest, revocationPieces } from './revocation-updates.js'

/**
 * Lists what the calling agent needs to serve its workloads (or says it is unchanged).
 *
 * @example
 * const { entries, bundle, federated_bundles, entries_digest } = await syncAuthorizedEntries(deps, caller, {})
 */
export async function syncAuthorizedEntries(
  deps: AgentApiContext,
  caller: AuthenticatedAgent,
  req: Partial<SyncAuthorizedEntriesRequest__Output>,
): Promise<SyncAuthorizedEntriesResponse> {
  const authorized = await deps.authorized.get(caller)
  const entries = authorized.list
  const wanted = new Set(entries.flatMap((e) => e.federatesWith.map(federatedTrustDomainName)))
  wanted.delete(deps.trustDomain.name)
  const federated =
    wanted.size === 0 ? [] : (await deps.datastore.listBundles()).filter((b) => wanted.has(b.trustDomain))
  const digest = syncDigest(authorized.digest, federated)
  const bundle = toWireBundle(deps.ca.currentBundle())
  const known = Number(req.known_revocation_sequence ?? 0)
  const [revocations] = revocationPieces(deps.revocations, Number.isSafeInteger(known) ? known : 0)
  const crlSet = deps.crls.current()
  const crlsDigest = crlDigest(crlSet)
  const crls = req.known_crls_digest === crlsDigest ? [] : [...crlSet.crls]
  if (req.known_entries_digest === digest) {
    return {
      entries: [],
      bundle,
      federated_bundles: [],
      entries_digest: digest,
      unchanged: true,
      revocations,
      crls,
      crls_digest: crlsDigest,
    }
  }
  return {
    entries: entries.map(toWireEntry),
    bundle,
    federated_bundles: federated.map(toWireBundleRecord),
    entries_digest: digest,
    unchanged: false,
    revocations,
    crls,
    crls_digest: crlsDigest,
  }
}

function syncDigest(entriesDigest: string, federated: readonly BundleRecord[]): string {
  const h = createHash('sha256').update(entriesDigest)
  for (const b of federated) h.update(`\n${b.trustDomain}\n${b.sequenceNumber}\n${b.spiffeBundleJson}`)
  return h.digest('hex')
}
