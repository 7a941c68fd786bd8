/**
 * Builds what one subscriber of a process should see now (internal to agent/cache/): nothing
 * yet (held), "no identity", or a complete snapshot. X509-SVID subscribers are held until the
 * SVID of every matching entry is ready; after a first delivery, a snapshot of the ready ones is
 * sent (an entry being re-issued keeps its still-valid SVID meanwhile). An SVID close to expiry
 * is never included.
 */
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import type { AuthorizedEntry, AuthorizedState } from './authorized-state.js'
import { federatedBundlesFor } from './entry-matching.js'
import type { IdentitySubscription, IdentityUpdate, WorkloadX509Svid } from './identity-subscription.js'
import type { ProcessRecord } from './process-record.js'
import { isServable } from './rotation-policy.js'

/** Our own bundle and the federated bundles a process may see. */
export interface VisibleBundles {
  readonly bundle: TrustBundle
  /** By trust-domain name. */
  readonly federatedBundles: ReadonlyMap<string, TrustBundle>
}

/** The bundles visible to a process matching `matched`. */
export function visibleBundles(state: AuthorizedState, matched: readonly AuthorizedEntry[]): VisibleBundles {
  return {
    bundle: state.bundle,
    federatedBundles: federatedBundlesFor(matched, state.federatedBundles, state.bundle.trustDomain),
  }
}

/** @internal The update for `sub` now, or undefined to hold. */
export function snapshotFor(
  state: AuthorizedState | undefined,
  rec: ProcessRecord,
  sub: IdentitySubscription,
  now: Date,
): IdentityUpdate | undefined {
  if (state === undefined) return undefined
  if (rec.matched.length === 0) return { kind: 'no-identity', reason: 'no-matching-entry' }
  const bundles = visibleBundles(state, rec.matched)
  if (!sub.wantsSvids) return { kind: 'identity', snapshot: { svids: [], ...bundles } }
  const svids: WorkloadX509Svid[] = []
  for (const entry of rec.matched) {
    const held = rec.heldSvid(entry.id)
    if (held === undefined || held.spiffeId !== entry.spiffeId || !isServable(now, held.notAfter)) continue
    svids.push({
      entry,
      spiffeId: held.spiffeId,
      chainDer: held.chainDer,
      privateKeyPkcs8Der: held.privateKeyPkcs8Der,
      serial: held.serial,
      notAfter: held.notAfter,
      hint: entry.hint,
    })
  }
  if (svids.length === 0) return undefined
  if (svids.length < rec.matched.length && !sub.delivered) return undefined
  return { kind: 'identity', snapshot: { svids, ...bundles } }
}
