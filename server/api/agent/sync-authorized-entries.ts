/**
 * SyncAuthorizedEntries: the complete list of entries the caller may serve, the trust
 * domain's bundle, and the federated bundles those entries name in `federatesWith` (only
 * those, and never a second copy of our own).
 */
import type { SyncAuthorizedEntriesResponse } from '../../../proto/generated/sigil/agent/v1/SyncAuthorizedEntriesResponse.js'
import type { AgentApiContext } from './agent-api-deps.js'
import type { AuthenticatedAgent } from './agent-authenticator.js'
import { federatedTrustDomainName, toWireBundle, toWireBundleRecord, toWireEntry } from './agent-wire.js'

/**
 * Lists what the calling agent needs to serve its workloads.
 *
 * @example
 * const { entries, bundle, federated_bundles } = await syncAuthorizedEntries(deps, caller)
 */
export async function syncAuthorizedEntries(
  deps: AgentApiContext,
  caller: AuthenticatedAgent,
): Promise<SyncAuthorizedEntriesResponse> {
  const entries = (await deps.authorized.get(caller)).list
  const wanted = new Set(entries.flatMap((e) => e.federatesWith.map(federatedTrustDomainName)))
  wanted.delete(deps.trustDomain.name)
  const federated =
    wanted.size === 0 ? [] : (await deps.datastore.listBundles()).filter((b) => wanted.has(b.trustDomain))
  return {
    entries: entries.map(toWireEntry),
    bundle: toWireBundle(deps.ca.currentBundle()),
    federated_bundles: federated.map(toWireBundleRecord),
  }
}
