/**
 * The CA manager's two kinds of signing authority — X.509 CAs and JWT signing keys —
 * as live objects (KeyObjects, parsed validity), how new ones are made, and how they
 * travel to and from the {@link KeyStore}'s plain records. Certificate building is
 * delegated to certs/; this module only decides names, lifetimes and identifiers.
 */

import type { KeyObject } from 'node:crypto'
import { randomBytes } from 'node:crypto'
import { SigilError } from '../../certs/errors.js'
import {
  generateKeyPair,
  importPrivateKey,
  importPublicKey,
  type KeyType,
  privateKeyToPkcs8Pem,
  publicKeyToSpkiDer,
} from '../../certs/keys/keys.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { buildCaCertificate } from '../../certs/x509svid/ca-certificate.js'
import { readCertificateFacts } from '../../certs/x509svid/certificate-facts.js'
import { certificatesToPem, pemToCertificates } from '../../certs/x509svid/pem.js'
import { verifyX509Ca } from '../../certs/x509svid/verify-x509-ca.js'
import type {
  AuthorityStatus,
  StoredAuthority,
  StoredJwtAuthority,
  StoredX509Authority,
} from './key-store.js'
import type { Validity } from './rotation.js'

/** CA certificates are backdated by this much (clock skew), or by a tenth of their TTL if shorter. */
export const CA_BACKDATE_MS = 10_000
/** Length of a JWT key's `kid`, as SPIRE uses. */
export const JWT_KID_LENGTH = 32
const KID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** Fields shared by both kinds; `status` and `signedUntil` change as the authority ages. */
export interface Authority extends Validity {
  readonly id: string
  status: AuthorityStatus
  /** Present until retired. */
  privateKey: KeyObject | undefined
  /** Latest notAfter of anything it signed (notAfter itself when unknown, e.g. after a restart). */
  signedUntil: Date | undefined
  /** Set by `localauthority taint` (retired authorities only): agents re-issue what it signed. */
  tainted?: boolean
}

/** An X.509 signing CA (self-signed root, or intermediate under an upstream CA). */
export interface X509Authority extends Authority {
  readonly certDer: Buffer
}

/** A JWT signing key. */
export interface JwtAuthority extends Authority {
  readonly kid: string
  readonly publicKey: KeyObject
}

/** An upstream CA: its chain (the CA that signs first, trust anchor last) and the signing CA's key. */
export interface UpstreamAuthority {
  readonly certDer: readonly Buffer[]
  readonly key: KeyObject
}

/** Random hex identifier for logs. */
function newId(): string {
  return randomBytes(8).toString('hex')
}

/** A random `kid` of {@link JWT_KID_LENGTH} alphanumeric characters. */
export function newKid(): string {
  const bytes = randomBytes(JWT_KID_LENGTH * 2)
  let kid = ''
  for (const b of bytes) {
    if (b >= 248) continue // 248 = 4 * 62: rejection keeps the alphabet uniform
    kid += KID_ALPHABET[b % KID_ALPHABET.length]
    if (kid.length === JWT_KID_LENGTH) return kid
  }
  return kid + newKid().slice(kid.length)
}

/**
 * Creates a prepared X.509 CA valid from about `now` for `ttlSeconds` (capped by the upstream's
 * notAfter). Throws `ERR_CERT_INVALID` when the minted certificate does not validate.
 */
export async function createX509Authority(opts: {
  trustDomain: TrustDomain
  keyType: KeyType
  ttlSeconds: number
  now: Date
  upstream: UpstreamAuthority | undefined
}): Promise<X509Authority> {
  const { privateKey, publicKey } = await generateKeyPair(opts.keyType)
  const ttlMs = opts.ttlSeconds * 1000
  const certDer = await buildCaCertificate({
    trustDomain: opts.trustDomain,
    publicKey,
    signerKey: opts.upstream?.key ?? privateKey,
    ...(opts.upstream ? { issuerCertDer: opts.upstream.certDer[0] } : {}),
    notBefore: new Date(opts.now.getTime() - Math.min(CA_BACKDATE_MS, ttlMs / 10)),
    notAfter: new Date(opts.now.getTime() + ttlMs),
  })
  // Validated by the one path builder before use: the new CA must chain to the bundle root it
  // will be published under (the upstream root, or itself as a self-signed root).
  const upstreamChain = opts.upstream?.certDer ?? []
  verifyX509Ca(
    [certDer, ...upstreamChain.slice(0, -1)],
    [upstreamChain.at(-1) ?? certDer],
    opts.trustDomain,
    {
      now: opts.now,
    },
  )
  const facts = readCertificateFacts(certDer)
  return {
    id: newId(),
    status: 'prepared',
    privateKey,
    signedUntil: undefined,
    certDer,
    notBefore: facts.notBefore,
    notAfter: facts.notAfter,
  }
}

/** Creates a prepared JWT signing key valid from `now` for `ttlSeconds`. */
export async function createJwtAuthority(opts: {
  keyType: KeyType
  ttlSeconds: number
  now: Date
}): Promise<JwtAuthority> {
  const { privateKey, publicKey } = await generateKeyPair(opts.keyType)
  return {
    id: newId(),
    status: 'prepared',
    privateKey,
    signedUntil: undefined,
    kid: newKid(),
    publicKey,
    notBefore: new Date(opts.now.getTime()),
    notAfter: new Date(opts.now.getTime() + opts.ttlSeconds * 1000),
  }
}

/**
 * True when `ca` is a CA this configuration can use: a self-signed root without an
 * upstream, or an intermediate issued by the upstream's signing CA with one.
 */
export function chainsToConfiguredRoot(ca: X509Authority, upstream: UpstreamAuthority | undefined): boolean {
  const facts = readCertificateFacts(ca.certDer)
  const issuerDer = upstream ? upstream.certDer[0] : ca.certDer
  if (!issuerDer) return false
  const issuer = readCertificateFacts(issuerDer)
  const sameKeyId =
    facts.authorityKeyId === undefined ||
    issuer.subjectKeyId === undefined ||
    facts.authorityKeyId.equals(issuer.subjectKeyId)
  return facts.issuerRaw.equals(issuer.subjectRaw) && sameKeyId
}

/** The record the key store keeps for an X.509 CA (no private key once retired). */
export function x509ToStored(a: X509Authority): StoredX509Authority {
  return {
    ...commonToStored(a),
    certificatePem: certificatesToPem([a.certDer]),
  }
}

/** The record the key store keeps for a JWT key (no private key once retired). */
export function jwtToStored(a: JwtAuthority): StoredJwtAuthority {
  return {
    ...commonToStored(a),
    kid: a.kid,
    publicKeyPem: a.publicKey.export({ type: 'spki', format: 'pem' }) as string,
  }
}

/** Rebuilds an X.509 CA from its record; throws `ERR_DATASTORE` when key and certificate disagree. */
export function x509FromStored(s: StoredX509Authority): X509Authority {
  const [certDer, ...rest] = pemToCertificates(s.certificatePem)
  if (!certDer || rest.length > 0) throw damaged(s.id, 'must hold exactly one CA certificate')
  const facts = readCertificateFacts(certDer)
  const privateKey = s.privateKeyPem === undefined ? undefined : importPrivateKey(s.privateKeyPem)
  if (privateKey && !publicKeyToSpkiDer(privateKey).equals(facts.spkiDer)) {
    throw damaged(s.id, "private key does not match the CA certificate's public key")
  }
  return {
    ...commonFromStored(s, privateKey),
    certDer,
    notBefore: facts.notBefore,
    notAfter: facts.notAfter,
  }
}

/** Rebuilds a JWT key from its record; throws `ERR_DATASTORE` when the key halves disagree. */
export function jwtFromStored(s: StoredJwtAuthority): JwtAuthority {
  const publicKey = importPublicKey(s.publicKeyPem)
  const privateKey = s.privateKeyPem === undefined ? undefined : importPrivateKey(s.privateKeyPem)
  if (privateKey && !publicKeyToSpkiDer(privateKey).equals(publicKeyToSpkiDer(publicKey))) {
    throw damaged(s.id, 'private key does not match the public key')
  }
  return { ...commonFromStored(s, privateKey), kid: s.kid, publicKey }
}

function commonToStored(a: Authority): StoredAuthority {
  return {
    id: a.id,
    status: a.status,
    ...(a.privateKey && a.status !== 'retired' ? { privateKeyPem: privateKeyToPkcs8Pem(a.privateKey) } : {}),
    notBefore: a.notBefore,
    notAfter: a.notAfter,
    // Only a retired authority's record is final; an active one may still sign after a save.
    ...(a.status === 'retired' && a.signedUntil ? { signedUntil: a.signedUntil } : {}),
    ...(a.tainted ? { tainted: true } : {}),
  }
}

function commonFromStored(s: StoredAuthority, privateKey: KeyObject | undefined): Authority {
  return {
    id: s.id,
    status: s.status,
    privateKey: s.status === 'retired' ? undefined : privateKey,
    notBefore: s.notBefore,
    notAfter: s.notAfter,
    // An active authority loaded from disk may have signed up to its notAfter before the restart.
    signedUntil: s.status === 'active' ? s.notAfter : s.signedUntil,
    ...(s.tainted ? { tainted: true } : {}),
  }
}

function damaged(id: string, why: string): SigilError {
  return new SigilError('ERR_DATASTORE', `key store authority ${id}: ${why}`)
}
