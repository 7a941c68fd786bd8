/**
 * What a Workload API stream receives from the cache: complete snapshots of one process's
 * identities and bundles, through a one-slot, latest-wins mailbox (SPIRE's subscriber channel),
 * so a slow reader only ever sees the newest state.
 */
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import type { AuthorizedEntry } from './authorized-state.js'

/** One X509-SVID held for one process: its own key, never shared with another process. */
export interface WorkloadX509Svid {
  readonly entry: AuthorizedEntry
  readonly spiffeId: string
  /** DER, leaf first, then intermediates. */
  readonly chainDer: readonly Buffer[]
  /** The SVID's private key, unencrypted PKCS#8 DER. */
  readonly privateKeyPkcs8Der: Buffer
  /** Lowercase hex serial number of the leaf. */
  readonly serial: string
  readonly notAfter: Date
  readonly hint: string
}

/** A complete state: each snapshot replaces every earlier one. */
export interface IdentitySnapshot {
  /** Sorted by entry ID (the first is the default identity); empty for bundle-only subscriptions. */
  readonly svids: readonly WorkloadX509Svid[]
  /** Our own trust domain's bundle. */
  readonly bundle: TrustBundle
  /** The federated bundles this process may see, by trust-domain name. */
  readonly federatedBundles: ReadonlyMap<string, TrustBundle>
  /** The server's current CRLs (DER) for the Workload API's `crl` fields; absent: none. */
  readonly crls?: readonly Buffer[]
}

/** Why a process has no identity (the stream ends with PERMISSION_DENIED). */
export type NoIdentityReason = 'no-matching-entry' | 'process-gone'

/** What a subscription delivers. */
export type IdentityUpdate =
  | { readonly kind: 'identity'; readonly snapshot: IdentitySnapshot }
  | { readonly kind: 'no-identity'; readonly reason: NoIdentityReason }

/**
 * A subscription to one process's identity. Read with {@link next} (one reader at a time);
 * updates that arrive while nobody reads are coalesced, the latest wins.
 *
 * @example
 * const sub = cache.subscribe(process)
 * for (let u = await sub.next(); u; u = await sub.next()) send(u)
 * sub.close()
 */
export class IdentitySubscription {
  /** True for FetchX509SVID-style subscriptions (SVIDs wanted); false for bundle-only ones. */
  readonly wantsSvids: boolean
  #slot: IdentityUpdate | undefined
  #waiter: ((u: IdentityUpdate | undefined) => void) | undefined
  #closed = false
  #last: IdentityUpdate | undefined
  readonly #onClose: (sub: IdentitySubscription) => void

  /** @internal Created by the cache. */
  constructor(wantsSvids: boolean, onClose: (sub: IdentitySubscription) => void) {
    this.wantsSvids = wantsSvids
    this.#onClose = onClose
  }

  /** True once closed (by the reader, or by the cache shutting down). */
  get closed(): boolean {
    return this.#closed
  }

  /** True once an identity snapshot was offered (later snapshots may then be partial). */
  get delivered(): boolean {
    return this.#last?.kind === 'identity'
  }

  /** The next update; `undefined` once the subscription is closed. */
  next(): Promise<IdentityUpdate | undefined> {
    if (this.#waiter !== undefined) throw new TypeError('only one next() may be pending')
    if (this.#slot !== undefined) {
      const u = this.#slot
      this.#slot = undefined
      return Promise.resolve(u)
    }
    if (this.#closed) return Promise.resolve(undefined)
    return new Promise((resolve) => {
      this.#waiter = resolve
    })
  }

  /** Ends the subscription; a pending {@link next} resolves to `undefined`. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#slot = undefined
    const w = this.#waiter
    this.#waiter = undefined
    w?.(undefined)
    this.#onClose(this)
  }

  /** @internal Offers an update unless it equals the last one offered; returns true if queued. */
  offer(u: IdentityUpdate): boolean {
    if (this.#closed || (this.#last !== undefined && sameUpdate(this.#last, u))) return false
    this.#last = u
    const w = this.#waiter
    if (w !== undefined) {
      this.#waiter = undefined
      w(u)
    } else {
      this.#slot = u
    }
    return true
  }
}

function sameUpdate(a: IdentityUpdate, b: IdentityUpdate): boolean {
  if (a.kind === 'no-identity' || b.kind === 'no-identity') {
    return a.kind === b.kind && a.kind === 'no-identity' && b.kind === 'no-identity' && a.reason === b.reason
  }
  return sameSnapshot(a.snapshot, b.snapshot)
}

const NO_CRLS: readonly Buffer[] = []

/** True when two snapshots would give a workload the same state. */
export function sameSnapshot(a: IdentitySnapshot, b: IdentitySnapshot): boolean {
  if (a.svids.length !== b.svids.length) return false
  for (let i = 0; i < a.svids.length; i++) {
    const x = a.svids[i]!
    const y = b.svids[i]!
    if (
      x.entry.id !== y.entry.id ||
      x.serial !== y.serial ||
      x.hint !== y.hint ||
      x.spiffeId !== y.spiffeId
    ) {
      return false
    }
  }
  if (!a.bundle.equals(b.bundle)) return false
  // a new CRL set is a new array (the cache replaces it whole)
  if ((a.crls ?? NO_CRLS) !== (b.crls ?? NO_CRLS)) return false
  if (a.federatedBundles.size !== b.federatedBundles.size) return false
  for (const [name, bundle] of a.federatedBundles) {
    const other = b.federatedBundles.get(name)
    if (other === undefined || !bundle.equals(other)) return false
  }
  return true
}
