/**
 * Memo of X509-SVID chains Authorize has verified: a tool's caller presents the same chain on
 * every TLS connection until it rotates, so the path is built once per chain, not once per
 * request. A hit is reused only under the very same bundle object (a bundle change misses) and
 * only while every certificate of the verified path is valid at `now` (checked on every hit);
 * the leaf's revocation is checked by the caller on every request.
 */
import { createHash } from 'node:crypto'
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { readCertificateFacts } from '../../certs/x509svid/certificate-facts.js'
import type { VerifiedX509Svid } from '../../certs/x509svid/verify-x509-svid.js'

/** Chains kept at most (the oldest is dropped past it). */
export const MAX_CACHED_X509_CHAINS = 4096

interface Entry {
  readonly bundle: TrustBundle
  readonly result: VerifiedX509Svid
  readonly serialHex: string
  readonly validFrom: number
  readonly validUntil: number
}

/** A cached verification: the result and the leaf's serial (lowercase hex). */
export interface CachedX509 {
  readonly result: VerifiedX509Svid
  readonly serialHex: string
}

/** The memo's key for a presented chain. */
export function chainKey(chain: readonly Buffer[]): string {
  const h = createHash('sha256')
  for (const der of chain) {
    h.update(String(der.length))
    h.update(':')
    h.update(der)
  }
  return h.digest('base64')
}

/** The memo; one per Authorize server. */
export class VerifiedX509Cache {
  readonly #entries = new Map<string, Entry>()

  /** A verified chain still valid at `now` under `bundle`, else undefined. */
  get(key: string, bundle: TrustBundle | undefined, now: Date): CachedX509 | undefined {
    const e = this.#entries.get(key)
    if (e === undefined) return undefined
    const t = now.getTime()
    if (e.bundle !== bundle || t < e.validFrom || t > e.validUntil) {
      this.#entries.delete(key)
      return undefined
    }
    return e
  }

  /** Remembers a chain that verified under `bundle`. */
  set(key: string, bundle: TrustBundle, result: VerifiedX509Svid): CachedX509 {
    const facts = result.verifiedChain.map((der) => readCertificateFacts(der))
    const entry: Entry = {
      bundle,
      result,
      serialHex: facts[0]?.serialHex ?? '',
      validFrom: Math.max(...facts.map((f) => f.notBefore.getTime())),
      validUntil: Math.min(...facts.map((f) => f.notAfter.getTime())),
    }
    if (this.#entries.size >= MAX_CACHED_X509_CHAINS) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
    this.#entries.set(key, entry)
    return entry
  }
}
