/**
 * The SPIFFE bundle document (SPIFFE.md §4.1): a JWK Set with `use` = `x509-svid` entries
 * (no `kid`, one std-base64 `x5c` CA certificate, key fields matching it) and `use` =
 * `jwt-svid` entries (`kid`, key fields only), `wit-svid` entries (WIT-SVID.md §6: the same
 * shape as `jwt-svid`; go-spiffe's parser skips a `use` it does not know), plus `spiffe_sequence` and
 * `spiffe_refresh_hint`. We write what go-spiffe's strict parser accepts (§7.13) and read
 * per the spec: unknown `use` or `kty` is ignored, an `x509-svid` key without `x5c` is
 * skipped, only `x5c[0]` is used.
 */
import { type KeyObject, X509Certificate } from 'node:crypto'
import { SigilError } from '../errors.js'
import { derSequenceLength } from '../lib/der-length.js'
import type { TrustDomain } from '../spiffeid/trust-domain.js'
import { decodeStdBase64, jwkToPublicKey, type PublicJwk, publicKeyToJwk } from './jwk.js'
import { isObject, member, parseStrictJsonObject } from './strict-json.js'
import { type JwtAuthority, TrustBundle } from './trust-bundle.js'

/** The document {@link spiffeBundleDocument} builds. */
export interface SpiffeBundleDocument {
  keys: (PublicJwk & { use: 'x509-svid' | 'jwt-svid' | 'wit-svid'; kid?: string; x5c?: [string] })[]
  spiffe_sequence: number
  spiffe_refresh_hint?: number
}

/** The SPIFFE bundle document as a JSON-ready object (for embedding in a bundle map). */
export function spiffeBundleDocument(
  bundle: TrustBundle,
  opts: { refreshHint?: boolean } = {},
): SpiffeBundleDocument {
  if (!(bundle instanceof TrustBundle)) throw new TypeError('bundle must be a TrustBundle')
  const keys: SpiffeBundleDocument['keys'] = []
  for (const [i, cert] of bundle.x509Certificates.entries()) {
    const der = bundle.x509Authorities[i] as Buffer
    keys.push({ ...publicKeyToJwk(cert.publicKey), use: 'x509-svid', x5c: [der.toString('base64')] })
  }
  for (const a of bundle.jwtAuthorities)
    keys.push({ ...publicKeyToJwk(a.publicKey), use: 'jwt-svid', kid: a.kid })
  for (const a of bundle.witAuthorities)
    keys.push({ ...publicKeyToJwk(a.publicKey), use: 'wit-svid', kid: a.kid })
  const doc: SpiffeBundleDocument = { keys, spiffe_sequence: bundle.sequenceNumber }
  if (opts.refreshHint !== false && bundle.refreshHintSeconds !== undefined) {
    doc.spiffe_refresh_hint = bundle.refreshHintSeconds
  }
  return doc
}

/**
 * Encodes a bundle as the SPIFFE bundle JSON document (what a bundle endpoint serves).
 * `spiffe_sequence` is always written; `spiffe_refresh_hint` when the bundle has one.
 *
 * @example
 * res.setHeader('content-type', 'application/json').end(encodeSpiffeBundle(bundle))
 */
export function encodeSpiffeBundle(bundle: TrustBundle): string {
  return JSON.stringify(spiffeBundleDocument(bundle))
}

/**
 * Decodes a SPIFFE bundle document for the trust domain it is known to belong to.
 * Throws `ERR_BUNDLE_INVALID` (never anything else) for any malformed document.
 *
 * @example
 * const bundle = decodeSpiffeBundle(TrustDomain.parse('other.org'), await res.text())
 */
export function decodeSpiffeBundle(trustDomain: TrustDomain, json: string | Uint8Array): TrustBundle {
  return spiffeBundleFromDocument(trustDomain, parseStrictJsonObject(json, 'SPIFFE bundle'))
}

/** Decodes an already-parsed SPIFFE bundle document (used by the bundle map). */
export function spiffeBundleFromDocument(
  trustDomain: TrustDomain,
  doc: unknown,
  where = 'SPIFFE bundle',
): TrustBundle {
  const fail = (why: string): never => {
    throw new SigilError('ERR_BUNDLE_INVALID', `${where}: ${why}`)
  }
  if (!isObject(doc)) fail('must be a JSON object')
  const obj = doc as Record<string, unknown>
  const keys = member(obj, 'keys')
  if (!Array.isArray(keys)) fail('"keys" must be present and be an array')
  const sequenceNumber = readCount(member(obj, 'spiffe_sequence'), 'spiffe_sequence', fail, 0)
  // A zero hint means "none" (the client then polls every 5 minutes).
  const refreshHintSeconds = readCount(member(obj, 'spiffe_refresh_hint'), 'spiffe_refresh_hint', fail, 1)
  const x509Authorities: Buffer[] = []
  const jwtAuthorities: JwtAuthority[] = []
  const witAuthorities: JwtAuthority[] = []
  for (const [i, key] of (keys as unknown[]).entries()) {
    const at = `${where} key ${i}`
    if (!isObject(key)) fail(`key ${i} is not a JSON object`)
    const jwk = key as Record<string, unknown>
    const use = member(jwk, 'use')
    if (use !== 'x509-svid' && use !== 'jwt-svid' && use !== 'wit-svid') continue // no, or an unknown, use: ignored per spec
    if (use === 'x509-svid') {
      const x5c = member(jwk, 'x5c')
      if (x5c === undefined || (Array.isArray(x5c) && x5c.length === 0)) continue // skipped per spec
      if (!Array.isArray(x5c)) fail(`key ${i}: "x5c" must be an array`)
      const publicKey = jwkToPublicKey(jwk, at)
      if (publicKey === undefined) continue // unknown kty: ignored per spec
      const der = decodeStdBase64((x5c as unknown[])[0])
      if (der === undefined) fail(`key ${i}: "x5c"[0] is not standard padded base64`)
      const certKey = certificateKey(der as Buffer, at)
      if (!certKey.equals(publicKey)) fail(`key ${i}: key fields do not match the x5c certificate's key`)
      x509Authorities.push(der as Buffer)
    } else {
      const kid = member(jwk, 'kid')
      if (typeof kid !== 'string' || kid === '') fail(`key ${i}: a ${use} key needs a non-empty "kid"`)
      const publicKey = jwkToPublicKey(jwk, at)
      const list = use === 'jwt-svid' ? jwtAuthorities : witAuthorities
      if (publicKey !== undefined) list.push({ kid: kid as string, publicKey })
    }
  }
  return TrustBundle.create({
    trustDomain,
    x509Authorities,
    jwtAuthorities,
    witAuthorities,
    sequenceNumber,
    refreshHintSeconds,
  })
}

function readCount(v: unknown, name: string, fail: (why: string) => never, min: number): number | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    fail(`"${name}" must be a non-negative integer (at most 2^53-1)`)
  }
  return (v as number) < min ? undefined : (v as number)
}

function certificateKey(der: Buffer, where: string): KeyObject {
  const len = derSequenceLength(der, 0)
  if (len !== der.length) {
    throw new SigilError('ERR_BUNDLE_INVALID', `${where}: "x5c"[0] is not exactly one DER certificate`)
  }
  try {
    return new X509Certificate(der).publicKey
  } catch (cause) {
    throw new SigilError('ERR_BUNDLE_INVALID', `${where}: "x5c"[0] is not a valid certificate`, { cause })
  }
}
