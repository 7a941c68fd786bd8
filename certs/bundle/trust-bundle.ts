/**
 * Trust bundles: the keys one trust domain's SVIDs are checked against (SPIFFE.md §4).
 * A {@link TrustBundle} holds the X.509 authorities (CA certificates, DER), the JWT
 * authorities (public keys by `kid`), the WIT authorities (WIT-SVID signing keys by `kid`,
 * published with `use: "wit-svid"`; a `kid` is unique across both lists), a sequence number
 * and a refresh hint.
 *
 * Trust: a bundle is exactly as trustworthy as the channel it arrived on. This module
 * checks only that its contents are well formed (parseable certificates, supported
 * public keys, unique kids); it never merges keys of different trust domains, and whoever
 * stores a bundle must keep its trust domain alongside (the JSON forms do not name it).
 * Encoders and decoders live next to it: `spiffe-bundle-json.ts` (the SPIFFE bundle
 * document), `jwt-bundle-json.ts` (FetchJWTBundles JWKS), `pem-bundle.ts`, `der-bundle.ts`
 * (the Workload API form) and `bundle-map.ts`.
 */
import { type KeyObject, X509Certificate } from 'node:crypto'
import { SigilError } from '../errors.js'
import { derSequenceLength } from '../lib/der-length.js'
import { TrustDomain } from '../spiffeid/trust-domain.js'
import { unsupportedKeyReason } from './jwk.js'

/** One JWT-SVID signing key as published in a bundle. `expiresAt` is local metadata, never encoded. */
export interface JwtAuthority {
  readonly kid: string
  readonly publicKey: KeyObject
  readonly expiresAt?: Date
}

/** What {@link TrustBundle.create} takes; every member but the trust domain is optional. */
export interface TrustBundleInit {
  trustDomain: TrustDomain
  /** DER CA certificates; exact duplicates are dropped (first kept). */
  x509Authorities?: readonly Uint8Array[]
  jwtAuthorities?: readonly JwtAuthority[]
  /** WIT-SVID signing keys (same shape as JWT authorities); a kid may not repeat a JWT authority's. */
  witAuthorities?: readonly JwtAuthority[]
  /** Non-negative safe integer; 0 when unset. */
  sequenceNumber?: number
  /** Suggested polling interval in whole seconds (> 0). */
  refreshHintSeconds?: number
}

/**
 * An immutable trust bundle for one trust domain.
 *
 * @example
 * const bundle = TrustBundle.create({ trustDomain, x509Authorities: [rootDer], jwtAuthorities: [{ kid, publicKey }] })
 * bundle.findJwtAuthority(kid)?.publicKey
 * bundle.x509AuthoritiesConcatenated() // Workload API `bundle` bytes
 */
export class TrustBundle {
  readonly trustDomain: TrustDomain
  readonly x509Authorities: readonly Buffer[]
  readonly jwtAuthorities: readonly JwtAuthority[]
  readonly witAuthorities: readonly JwtAuthority[]
  readonly sequenceNumber: number
  readonly refreshHintSeconds: number | undefined
  readonly #certificates: readonly X509Certificate[]
  readonly #byKid: ReadonlyMap<string, JwtAuthority>
  readonly #witByKid: ReadonlyMap<string, JwtAuthority>

  private constructor(init: Required<Omit<TrustBundleInit, 'refreshHintSeconds'>> & TrustBundleInit) {
    const certs: Buffer[] = []
    const parsed: X509Certificate[] = []
    for (const [i, der] of init.x509Authorities.entries()) {
      if (!(der instanceof Uint8Array))
        throw new TypeError(`x509Authorities[${i}] must be a Uint8Array (DER)`)
      if (certs.some((c) => c.equals(der))) continue
      const copy = Buffer.from(der)
      parsed.push(parseAuthority(copy, i))
      certs.push(copy)
    }
    const byKid = new Map<string, JwtAuthority>()
    for (const [i, a] of init.jwtAuthorities.entries()) {
      const authority = checkJwtAuthority(a, i)
      if (byKid.has(authority.kid)) {
        throw new SigilError('ERR_BUNDLE_INVALID', `JWT authority kid "${authority.kid}" appears twice`)
      }
      byKid.set(authority.kid, authority)
    }
    const witByKid = new Map<string, JwtAuthority>()
    for (const [i, a] of init.witAuthorities.entries()) {
      const authority = checkJwtAuthority(a, i, 'witAuthorities')
      if (byKid.has(authority.kid) || witByKid.has(authority.kid)) {
        throw new SigilError(
          'ERR_BUNDLE_INVALID',
          `WIT authority kid "${authority.kid}" appears twice in the bundle`,
        )
      }
      witByKid.set(authority.kid, authority)
    }
    this.trustDomain = init.trustDomain
    this.x509Authorities = Object.freeze(certs)
    this.jwtAuthorities = Object.freeze([...byKid.values()])
    this.witAuthorities = Object.freeze([...witByKid.values()])
    this.sequenceNumber = init.sequenceNumber
    this.refreshHintSeconds = init.refreshHintSeconds
    this.#certificates = Object.freeze(parsed)
    this.#byKid = byKid
    this.#witByKid = witByKid
    Object.freeze(this)
  }

  /**
   * Builds a bundle, checking every member. Throws `ERR_BUNDLE_INVALID` for unparseable
   * certificates, unsupported or private keys, empty or duplicate kids, and bad numbers;
   * `TypeError` for arguments of the wrong JavaScript type.
   */
  static create(init: TrustBundleInit): TrustBundle {
    if (!(init?.trustDomain instanceof TrustDomain)) throw new TypeError('trustDomain must be a TrustDomain')
    const x509Authorities = init.x509Authorities ?? []
    const jwtAuthorities = init.jwtAuthorities ?? []
    const witAuthorities = init.witAuthorities ?? []
    if (!Array.isArray(x509Authorities)) throw new TypeError('x509Authorities must be an array')
    if (!Array.isArray(jwtAuthorities)) throw new TypeError('jwtAuthorities must be an array')
    if (!Array.isArray(witAuthorities)) throw new TypeError('witAuthorities must be an array')
    const sequenceNumber = init.sequenceNumber ?? 0
    if (!Number.isSafeInteger(sequenceNumber) || sequenceNumber < 0) {
      throw new SigilError('ERR_BUNDLE_INVALID', 'sequence number must be a non-negative safe integer')
    }
    const hint = init.refreshHintSeconds
    if (hint !== undefined && (!Number.isSafeInteger(hint) || hint <= 0)) {
      throw new SigilError('ERR_BUNDLE_INVALID', 'refresh hint must be a positive whole number of seconds')
    }
    return new TrustBundle({ ...init, x509Authorities, jwtAuthorities, witAuthorities, sequenceNumber })
  }

  /** The JWT authority with this `kid`, if any. */
  findJwtAuthority(kid: string): JwtAuthority | undefined {
    return this.#byKid.get(kid)
  }

  /** The WIT authority (WIT-SVID signing key) with this `kid`, if any. */
  findWitAuthority(kid: string): JwtAuthority | undefined {
    return this.#witByKid.get(kid)
  }

  /** The X.509 authorities parsed (same order as {@link x509Authorities}). */
  get x509Certificates(): readonly X509Certificate[] {
    return this.#certificates
  }

  /** True when this exact DER certificate is one of the X.509 authorities. */
  hasX509Authority(der: Uint8Array): boolean {
    return this.x509Authorities.some((c) => c.equals(der))
  }

  /** The Workload API form: every CA certificate's DER, end to end (SPIFFE.md §5.3). */
  x509AuthoritiesConcatenated(): Buffer {
    return Buffer.concat(this.x509Authorities)
  }

  /** A copy with another sequence number. */
  withSequence(sequenceNumber: number): TrustBundle {
    return TrustBundle.create({ ...this.#init(), sequenceNumber })
  }

  /** A copy with another (or no) refresh hint. */
  withRefreshHint(refreshHintSeconds: number | undefined): TrustBundle {
    return TrustBundle.create({ ...this.#init(), refreshHintSeconds })
  }

  /** A copy with these X.509 authorities instead (sequence number unchanged). */
  withX509Authorities(x509Authorities: readonly Uint8Array[]): TrustBundle {
    return TrustBundle.create({ ...this.#init(), x509Authorities })
  }

  /** A copy with these JWT authorities instead (sequence number unchanged). */
  withJwtAuthorities(jwtAuthorities: readonly JwtAuthority[]): TrustBundle {
    return TrustBundle.create({ ...this.#init(), jwtAuthorities })
  }

  /** A copy with these WIT authorities instead (sequence number unchanged). */
  withWitAuthorities(witAuthorities: readonly JwtAuthority[]): TrustBundle {
    return TrustBundle.create({ ...this.#init(), witAuthorities })
  }

  /**
   * True when both bundles publish the same thing: trust domain, sequence number, refresh
   * hint, X.509 authorities, JWT and WIT authorities (kid and key), in any order. A JWT
   * authority's local `expiresAt` is ignored, since no encoded form carries it.
   */
  equals(other: TrustBundle): boolean {
    if (this === other) return true
    if (!this.trustDomain.equals(other.trustDomain)) return false
    if (this.sequenceNumber !== other.sequenceNumber) return false
    if (this.refreshHintSeconds !== other.refreshHintSeconds) return false
    if (this.x509Authorities.length !== other.x509Authorities.length) return false
    if (!this.x509Authorities.every((c) => other.hasX509Authority(c))) return false
    if (this.jwtAuthorities.length !== other.jwtAuthorities.length) return false
    if (this.witAuthorities.length !== other.witAuthorities.length) return false
    const same = (a: JwtAuthority, b: JwtAuthority | undefined) =>
      b !== undefined && a.publicKey.equals(b.publicKey)
    return (
      this.jwtAuthorities.every((a) => same(a, other.findJwtAuthority(a.kid))) &&
      this.witAuthorities.every((a) => same(a, other.findWitAuthority(a.kid)))
    )
  }

  #init(): TrustBundleInit {
    return {
      trustDomain: this.trustDomain,
      x509Authorities: this.x509Authorities,
      jwtAuthorities: this.jwtAuthorities,
      witAuthorities: this.witAuthorities,
      sequenceNumber: this.sequenceNumber,
      refreshHintSeconds: this.refreshHintSeconds,
    }
  }
}

function parseAuthority(der: Buffer, i: number): X509Certificate {
  const len = derSequenceLength(der, 0)
  if (typeof len === 'string' || len !== der.length) {
    throw new SigilError(
      'ERR_BUNDLE_INVALID',
      `X.509 authority ${i} is not exactly one DER certificate${typeof len === 'string' ? `: ${len}` : ''}`,
    )
  }
  let cert: X509Certificate
  let publicKey: KeyObject
  try {
    cert = new X509Certificate(der)
    publicKey = cert.publicKey // parsed lazily; may fail on its own
  } catch (cause) {
    throw new SigilError('ERR_BUNDLE_INVALID', `X.509 authority ${i} is not a valid certificate`, { cause })
  }
  const why = unsupportedKeyReason(publicKey)
  if (why) throw new SigilError('ERR_BUNDLE_INVALID', `X.509 authority ${i}: ${why}`)
  return cert
}

function checkJwtAuthority(a: JwtAuthority, i: number, list = 'jwtAuthorities'): JwtAuthority {
  const what = list === 'jwtAuthorities' ? 'JWT authority' : 'WIT authority'
  if (typeof a !== 'object' || a === null) throw new TypeError(`${list}[${i}] must be an object`)
  const { kid, publicKey, expiresAt } = a
  if (typeof kid !== 'string') throw new TypeError(`${list}[${i}].kid must be a string`)
  if (kid.length === 0) throw new SigilError('ERR_BUNDLE_INVALID', `${what} ${i} has an empty kid`)
  if (typeof publicKey !== 'object' || publicKey === null || typeof publicKey.equals !== 'function') {
    throw new TypeError(`${list}[${i}].publicKey must be a KeyObject`)
  }
  if (publicKey.type !== 'public') throw new TypeError(`${list}[${i}].publicKey must be a public key`)
  const why = unsupportedKeyReason(publicKey)
  if (why) throw new SigilError('ERR_BUNDLE_INVALID', `${what} "${kid}": ${why}`)
  if (expiresAt !== undefined && (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime()))) {
    throw new TypeError(`${list}[${i}].expiresAt must be a valid Date`)
  }
  return Object.freeze(expiresAt === undefined ? { kid, publicKey } : { kid, publicKey, expiresAt })
}
